/**
 * The broker's limits as small pure pieces (injected clock), then each applied by a real broker:
 * an oversized packet drops its connection, a deep topic and a long client id are refused, and
 * one address opening connections too fast is cut off while an established session carries on.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import {
  ConnectionGate,
  DEFAULT_LIMITS,
  FrameScanner,
  LogThrottle,
  TokenBucket,
  resolveLimits,
} from '../../broker/limits.ts';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import type { Logger } from '../../src/log.ts';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenBucket', () => {
  it('allows a burst, then the sustained rate', () => {
    const c = clock();
    const b = new TokenBucket({ perSecond: 20, burst: 40 }, c.now);
    expect(Array.from({ length: 40 }, () => b.take()).every(Boolean)).toBe(true);
    expect(b.take()).toBe(false);
    c.advance(50); // one token at 20/s
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    c.advance(10_000); // refills to the burst, not beyond
    expect(Array.from({ length: 41 }, () => b.take()).filter(Boolean)).toHaveLength(40);
  });

  it('does not refill when the clock goes backwards', () => {
    const c = clock();
    const b = new TokenBucket({ perSecond: 1, burst: 1 }, c.now);
    expect(b.take()).toBe(true);
    c.advance(-5_000);
    expect(b.take()).toBe(false);
  });
});

describe('ConnectionGate', () => {
  it('keeps one bucket per address', () => {
    const c = clock();
    const gate = new ConnectionGate({ perSecond: 1, burst: 2 }, c.now);
    expect([gate.admit('a'), gate.admit('a'), gate.admit('a')]).toEqual([true, true, false]);
    expect(gate.admit('b')).toBe(true);
  });

  it('forgets refilled buckets when many addresses come by', () => {
    const c = clock();
    const gate = new ConnectionGate({ perSecond: 10, burst: 2 }, c.now, 100);
    for (let i = 0; i < 100; i++) gate.admit(`10.0.0.${i}`);
    c.advance(1_000);
    gate.admit('10.1.0.1');
    expect(gate.size).toBe(1);
  });
});

describe('LogThrottle', () => {
  it('lets one line a second per key through, counting the ones held back', () => {
    const c = clock();
    const t = new LogThrottle(1000, c.now);
    expect(t.note('x')).toBe(1);
    for (let i = 0; i < 500; i++) expect(t.note('x')).toBeNull();
    expect(t.note('y')).toBe(1);
    c.advance(1000);
    expect(t.note('x')).toBe(501);
    expect(t.note('x')).toBeNull();
  });
});

describe('FrameScanner', () => {
  const publish = (payload: number, topic = 'a/b') =>
    mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.alloc(payload), qos: 0, retain: false, dup: false });

  it('passes packets within the cap, however they are split', () => {
    const bytes = Buffer.concat([
      publish(300),
      publish(1000),
      mqttPacket.generate({ cmd: 'pingreq' }),
      publish(16_000),
    ]);
    for (const size of [1, 2, 7, 1024, bytes.length]) {
      const s = new FrameScanner(16 * 1024);
      for (let i = 0; i < bytes.length; i += size) expect(s.push(bytes.subarray(i, i + size))).toEqual({ ok: true });
    }
  });

  it('refuses from the header alone, before the body arrives, and stays refused', () => {
    const big = publish(20_000);
    const s = new FrameScanner(16 * 1024);
    expect(s.push(publish(10))).toEqual({ ok: true });
    expect(s.push(big.subarray(0, 4))).toEqual({ ok: false, reason: 'too-large', declared: big.length });
    expect(s.push(publish(10)).ok).toBe(false);
  });

  it('refuses a remaining length with a fifth continuation byte', () => {
    expect(new FrameScanner(1 << 30).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('0 means no cap', () => {
    expect(new FrameScanner(0).push(publish(100_000))).toEqual({ ok: true });
  });
});

describe('resolveLimits', () => {
  it('fills in the defaults and refuses nonsense', () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ maxPacketBytes: 1024 }).maxPacketBytes).toBe(1024);
    expect(resolveLimits({ connectRate: null }).connectRate).toBeNull();
    expect(() => resolveLimits({ maxTopicLevels: 0 })).toThrow(/maxTopicLevels/);
    expect(() => resolveLimits({ connectRate: { perSecond: 0, burst: 1 } })).toThrow(/connectRate/);
  });
});

function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const rec = (_o: unknown, msg?: string) => void lines.push(typeof _o === 'string' ? _o : (msg ?? ''));
  const log = { debug: () => {}, info: () => {}, warn: rec, error: rec, child: () => log } as unknown as Logger;
  return { log, lines };
}

/** Opens a raw TCP connection, writes `bytes`, and resolves once the broker closes it (or after `ms`). */
function rawExchange(url: string, bytes: Buffer, ms = 2_000): Promise<{ closed: boolean; received: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes, () => {}));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, received: Buffer.concat(chunks) });
    }, ms);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received: Buffer.concat(chunks) });
    });
  });
}

const connectPacket = (clientId: string) =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 30 });

describe('limits on a real broker', () => {
  let broker: RunningBroker | null = null;
  afterEach(async () => {
    await broker?.close();
    broker = null;
  });

  it('startBroker() without limits keeps aedes defaults: a 64 KB publish goes through', async () => {
    broker = await startBroker({ port: 0, wsPort: null });
    const c = await connectOnce(broker.mqttUrl, { clientId: 'big-ok' });
    await c.publishAsync('x/y', Buffer.alloc(64 * 1024), { qos: 1 });
    await endClient(c);
  });

  it('drops a connection whose packet is over the cap, and keeps serving others', async () => {
    const { log, lines } = captureLog();
    broker = await startBroker({ port: 0, wsPort: null, limits: { maxPacketBytes: 4096 }, log });
    const big = mqttPacket.generate({
      cmd: 'publish',
      topic: 'x/y',
      payload: Buffer.alloc(5000),
      qos: 0,
      retain: false,
      dup: false,
    });
    // Only the header: the broker must not wait for the 5 KB body to decide.
    const r = await rawExchange(broker.mqttUrl, Buffer.concat([connectPacket('c1'), big.subarray(0, 5)]));
    expect(r.closed).toBe(true);
    expect(lines.some((l) => /5\d\d\d-byte packet exceeds the 4096-byte limit/.test(l))).toBe(true);
    const ok = await connectOnce(broker.mqttUrl, { clientId: 'after' });
    await ok.publishAsync('x/y', Buffer.alloc(3000), { qos: 1 });
    await endClient(ok);
  });

  it('refuses a topic deeper than maxTopicLevels and a client id longer than maxClientIdLength', async () => {
    broker = await startBroker({ port: 0, wsPort: null, limits: { maxTopicLevels: 4, maxClientIdLength: 10 } });
    const long = await connectOnce(broker.mqttUrl, { clientId: 'x'.repeat(11), reconnectPeriod: 0 }).catch(
      (e: Error) => e,
    );
    expect(long).toBeInstanceOf(Error);
    expect(String(long)).toMatch(/CONNACK 2|[Ii]dentifier rejected/);
    const c = await connectOnce(broker.mqttUrl, { clientId: 'short' });
    expect((await c.subscribeAsync('a/b/c/d'))[0]!.qos).toBe(0);
    // aedes answers a too-deep topic by dropping the connection (MQTT 3.1.1 has nothing finer).
    await expect(c.subscribeAsync('a/b/c/d/e')).rejects.toThrow(/closed/i);
    await endClient(c);
  });

  it('cuts off an address that connects too fast, logging once a second, while an open session carries on', async () => {
    const { log, lines } = captureLog();
    broker = await startBroker({ port: 0, wsPort: null, limits: { connectRate: { perSecond: 1, burst: 3 } }, log });
    const kept = await connectOnce(broker.mqttUrl, { clientId: 'kept' }); // takes one token
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        rawExchange(broker!.mqttUrl, connectPacket(`c${Math.random()}`.slice(0, 10)), 1_000),
      ),
    );
    const answered = results.filter((r) => r.received.length > 0).length; // a CONNACK came back
    expect(answered).toBeLessThanOrEqual(3);
    expect(results.filter((r) => r.closed && r.received.length === 0).length).toBeGreaterThanOrEqual(27);
    expect(lines.filter((l) => /connection attempt\(s\) from 127\.0\.0\.1/.test(l)).length).toBeLessThanOrEqual(2);
    await kept.publishAsync('x/y', 'still here', { qos: 1 });
    await endClient(kept);
  });
});

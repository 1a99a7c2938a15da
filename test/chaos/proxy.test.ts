/**
 * The fault proxy with real sockets: an echo server and a real aedes broker behind it, plain
 * TCP and MQTT.js clients in front. Every fault is checked the way a device would feel it.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../broker/broker.ts';
import { startFaultProxy, type FaultEvent, type FaultProxy, type FaultProxyOptions } from '../../tools/chaos/proxy.ts';
import type { ChaosClock } from '../../tools/chaos/clock.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { startTestBroker } from '../support/broker.ts';
import { until } from '../support/mqtt.ts';
import { connect, freePort, startEchoServer, tcpHandles, type EchoServer } from './sockets.ts';

let echo: EchoServer;
let broker: RunningBroker;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  echo = await startEchoServer();
  broker = await startTestBroker();
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await broker.close();
  await echo.close();
});

async function proxyTo(port: number, opts: Partial<FaultProxyOptions> = {}): Promise<FaultProxy> {
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, seed: 1, ...opts });
  proxies.push(proxy);
  return proxy;
}

const brokerPort = () => Number(new URL(broker.mqttUrl).port);

/** A publish that comes back through the broker on a fresh topic: the connection really works. */
async function roundTrip(client: MqttClient, topic: string): Promise<void> {
  await client.subscribeAsync(topic, { qos: 1 });
  const got = new Promise<string>((resolve) => client.once('message', (_t, payload) => resolve(payload.toString())));
  await client.publishAsync(topic, 'ping', { qos: 1 });
  expect(await got).toBe('ping');
}

// First, so that no socket from an earlier test is still closing while the handles are counted.
describe('fault proxy: close', () => {
  it('leaves no socket, server or timer behind', async () => {
    const before = tcpHandles();
    const pending = new Set<unknown>();
    const clock: ChaosClock = {
      now: () => Date.now(),
      setTimeout: (fn, ms) => {
        const handle = setTimeout(() => (pending.delete(handle), fn()), ms);
        pending.add(handle);
        return handle;
      },
      clearTimeout: (handle) => (pending.delete(handle), clearTimeout(handle as NodeJS.Timeout)),
    };
    const proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: echo.port },
      clock,
      schedule: [{ atMs: 60_000, fault: 'reset' }],
      random: { meanMs: 60_000 },
    });
    const clients = [await connect(proxy.port), await connect(proxy.port)];
    proxy.setDelay(50_000);
    clients[0]!.socket.write('held in the delay queue');
    proxy.inject({ kind: 'blackhole', durationMs: 60_000 }, 2);
    await until(() => pending.size >= 4, 'timers to be armed', 2000);
    await proxy.close();
    await Promise.all(clients.map((c) => c.ended));
    expect(pending.size).toBe(0);
    // The echo server's own sockets close a moment after they see the proxy's FIN.
    await until(() => tcpHandles() === before, `TCP handles back to ${before} (now ${tcpHandles()})`, 2000);
  });
});

describe('fault proxy: forwarding', () => {
  it('passes bytes through unchanged, both ways, and counts them', async () => {
    const proxy = await proxyTo(echo.port);
    const client = await connect(proxy.port);
    const payload = randomBytes(1024 * 1024);
    client.socket.write(payload);
    expect((await client.receive(payload.length)).equals(payload)).toBe(true);
    client.socket.end();
    await client.ended;
    expect(proxy.stats()).toMatchObject({
      connections: { accepted: 1 },
      bytes: { toTarget: payload.length, toClient: payload.length },
    });
  });

  it('carries a real MQTT session to the broker', async () => {
    const proxy = await proxyTo(brokerPort());
    const client = await connectOnce(proxy.mqttUrl, { clientId: 'chaos-passthrough' });
    await roundTrip(client, 'chaos/passthrough');
    await endClient(client);
  });
});

describe('fault proxy: faults', () => {
  it('reset gives the client ECONNRESET', async () => {
    const proxy = await proxyTo(echo.port);
    const client = await connect(proxy.port);
    client.socket.write('hello');
    await client.receive(5);
    const event = proxy.resetAll();
    expect(event).toMatchObject({ kind: 'reset', cause: 'manual', links: [1], scope: 'all' });
    expect(await client.ended).toEqual({ error: 'ECONNRESET', sawEnd: false });
    expect(proxy.stats().faults.reset).toBe(1);
  });

  it('drop closes the connection cleanly, with a FIN', async () => {
    const proxy = await proxyTo(echo.port);
    const client = await connect(proxy.port);
    proxy.dropAll();
    expect(await client.ended).toEqual({ error: null, sawEnd: true });
    await until(() => proxy.stats().connections.live === 0, 'the proxy to let go of the dropped connection', 3000);
  });

  it('blackhole: an MQTT client with a 1 s keepalive notices the dead link, and reconnects once it heals', async () => {
    const proxy = await proxyTo(brokerPort());
    const client = mqtt.connect(proxy.mqttUrl, {
      clientId: 'chaos-blackhole',
      keepalive: 1,
      reconnectPeriod: 100,
      connectTimeout: 4000,
    });
    client.on('error', () => {}); // "Keepalive timeout" is the point of the test
    await new Promise((resolve) => client.once('connect', resolve));
    const start = Date.now();
    proxy.blackhole(2000);
    const lostAt = await new Promise<number>((resolve) => client.once('close', () => resolve(Date.now())));
    const backAt = await new Promise<number>((resolve) => client.once('connect', () => resolve(Date.now())));
    expect(lostAt - start).toBeLessThan(2000); // detected by keepalive, inside the blackhole
    expect(backAt - start).toBeGreaterThanOrEqual(2000); // nothing got through until it healed
    await roundTrip(client, 'chaos/after-blackhole');
    await endClient(client);
  });

  it('delay adds at least the configured latency each way, and jitter never reorders bytes', async () => {
    const proxy = await proxyTo(echo.port);
    const client = await connect(proxy.port);
    proxy.setDelay(100);
    const sent = Date.now();
    client.socket.write('x');
    await client.receive(1);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(200);

    proxy.setDelay(5, 40);
    const chunks = Array.from({ length: 60 }, (_, i) => Buffer.from(`<${i}>`));
    for (const chunk of chunks) {
      client.socket.write(chunk);
      await new Promise((resolve) => setImmediate(resolve)); // separate chunks, each with its own jitter
    }
    const expected = Buffer.concat([Buffer.from('x'), ...chunks]);
    expect((await client.receive(expected.length)).toString()).toBe(expected.toString());
    client.socket.destroy();
  });

  it('pause refuses new connections (ECONNREFUSED) until resume', async () => {
    const proxy = await proxyTo(echo.port);
    const event = proxy.pause();
    expect(event).toMatchObject({ kind: 'refuse', scope: 'listener' });
    await expect(connect(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.resume();
    const client = await connect(proxy.port);
    client.socket.write('back');
    expect((await client.receive(4)).toString()).toBe('back');
    client.socket.destroy();
  });

  it('target down: the client connection is closed, and the proxy keeps serving', async () => {
    const proxy = await proxyTo(await freePort());
    for (let i = 0; i < 2; i++) {
      const client = await connect(proxy.port);
      expect(await client.ended).toEqual({ error: null, sawEnd: true });
    }
    expect(proxy.stats().connections).toMatchObject({ accepted: 2, targetUnreachable: 2 });
  });
});

describe('fault proxy: random and scheduled faults', () => {
  /** Five connections one after another, each kept open until a random fault ends it. */
  async function randomRun(seed: number): Promise<[number, string, number | undefined][]> {
    const events: FaultEvent[] = [];
    const proxy = await proxyTo(echo.port, {
      seed,
      random: { meanMs: 15, weights: { reset: 1, drop: 1, blackhole: 2 }, blackholeMs: 10 },
      onFault: (e) => events.push(e),
    });
    for (let i = 0; i < 5; i++) {
      const client = await connect(proxy.port).catch(() => null);
      await client?.ended;
    }
    await proxy.close();
    return events.map((e) => [e.links[0]!, e.kind, e.afterMs]);
  }

  it('the same seed replays the same fault sequence; another seed does not', async () => {
    const first = await randomRun(42);
    expect(first.filter(([, kind]) => kind !== 'blackhole')).toHaveLength(5); // each connection ended by a reset or a drop
    expect(await randomRun(42)).toEqual(first);
    expect(await randomRun(43)).not.toEqual(first);
  });

  it('runs a schedule: a timed delay for all, then a reset of one connection picked by the seed', async () => {
    const events: FaultEvent[] = [];
    const schedule = [
      { atMs: 150, fault: 'delay' as const, delayMs: 30, durationMs: 100 },
      { atMs: 200, fault: 'reset' as const, target: 'one' as const },
    ];
    const proxy = await proxyTo(echo.port, { schedule, onFault: (e) => events.push(e) });
    const clients = [await connect(proxy.port), await connect(proxy.port)];
    const firstEnded = await Promise.race(clients.map((c, i) => c.ended.then(() => i)));
    expect(events.map((e) => [e.kind, e.cause, e.scope])).toEqual([
      ['delay', 'schedule', 'all'],
      ['reset', 'schedule', 'link'],
    ]);
    expect(events[1]!.atMs).toBeGreaterThanOrEqual(200);
    const survivor = clients[1 - firstEnded]!;
    survivor.socket.write('still here');
    expect((await survivor.receive(10)).toString()).toBe('still here');
    survivor.socket.destroy();
  });
});

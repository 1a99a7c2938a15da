/**
 * The fleet's light MQTT client (tools/fleet/light-mqtt) against a real aedes broker on an
 * ephemeral loopback port, with MQTT.js on the other side where a peer is needed: what the
 * firmware relies on — CONNECT with a will and a persistent session, QoS 1 both ways with the
 * PUBACK only after `done`, one message at a time in order, keep-alive, refusals — holds.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { LightMqttClient, type LightMessage } from '../../tools/fleet/light-mqtt/client.ts';
import { PacketReader, encodePublish, type Incoming } from '../../tools/fleet/light-mqtt/codec.ts';

const opened: { end(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.end().catch(() => undefined);
});

async function broker(): Promise<RunningBroker> {
  const b = await startBroker({ port: 0, wsPort: null });
  opened.push({ end: () => b.close() });
  return b;
}

function light(url: string, opts: ConstructorParameters<typeof LightMqttClient>[1]): LightMqttClient {
  const c = new LightMqttClient(url, { clientId: 'light-1', clean: false, keepalive: 20, ...opts });
  opened.push({ end: () => c.endAsync(true) });
  return c;
}

async function peer(url: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { clientId: `peer-${Math.random()}`, reconnectPeriod: 0 });
  opened.push({ end: () => c.endAsync(true) });
  return c;
}

const once = <T>(c: LightMqttClient, event: 'connect' | 'close' | 'error') =>
  new Promise<T>((resolve) => c.once(event, resolve as never));

describe('light MQTT client', () => {
  it('connects, subscribes, and takes QoS 1 messages one at a time, PUBACKing each only after done', async () => {
    const b = await broker();
    const c = light(b.mqttUrl, {});
    await once(c, 'connect');
    await c.subscribeAsync(['t/in'], { qos: 1 });
    const seen: string[] = [];
    let release: (() => void) | null = null;
    c.handleMessage = (m: LightMessage, done) => {
      seen.push(m.payload.toString());
      // The first message is held: the second must wait for it.
      if (seen.length === 1) release = () => done();
      else done();
    };
    const p = await peer(b.mqttUrl);
    await p.publishAsync('t/in', 'one', { qos: 1 });
    await p.publishAsync('t/in', 'two', { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['one']);
    release!();
    await expect.poll(() => seen).toEqual(['one', 'two']);
  });

  it('a message whose done() carries an error is not PUBACKed: the broker sends it again in the next session', async () => {
    const b = await broker();
    const c = light(b.mqttUrl, {});
    await once(c, 'connect');
    await c.subscribeAsync('t/again', { qos: 1 });
    const got: boolean[] = [];
    c.handleMessage = (m, done) => {
      got.push(m.dup);
      if (got.length === 1) {
        done(new Error('not stored'));
        c.stream!.destroy();
      } else done();
    };
    const p = await peer(b.mqttUrl);
    await p.publishAsync('t/again', 'x', { qos: 1 });
    await once(c, 'close');
    c.reconnect();
    await expect.poll(() => got.length).toBe(2);
  });

  it('publishes QoS 1 (resolved on the PUBACK) and QoS 0, retained or not, that an MQTT.js peer receives', async () => {
    const b = await broker();
    const p = await peer(b.mqttUrl);
    await p.subscribeAsync('t/out/#', { qos: 1 });
    const got: string[] = [];
    p.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    const c = light(b.mqttUrl, {});
    await once(c, 'connect');
    await c.publishAsync('t/out/1', '金额 12345', { qos: 1 });
    await c.publishAsync('t/out/0', Buffer.from('zero'), { qos: 0 });
    await c.publishAsync('t/out/r', 'kept', { qos: 1, retain: true });
    await expect.poll(() => got.sort()).toEqual(['t/out/0=zero', 't/out/1=金额 12345', 't/out/r=kept']);
    const late = await peer(b.mqttUrl);
    const retained = new Promise<string>((r) => late.on('message', (_t, m) => r(m.toString())));
    await late.subscribeAsync('t/out/r', { qos: 1 });
    expect(await retained).toBe('kept');
  });

  it('its will is published when the link dies, and a publish in flight is rejected, not left hanging', async () => {
    const b = await broker();
    const p = await peer(b.mqttUrl);
    await p.subscribeAsync('t/will', { qos: 1 });
    const will = new Promise<string>((r) => p.on('message', (_t, m) => r(m.toString())));
    const c = light(b.mqttUrl, { will: { topic: 't/will', payload: 'offline', qos: 1, retain: false } });
    await once(c, 'connect');
    c.stream!.resetAndDestroy();
    expect(await will).toBe('offline');
    await expect(c.publishAsync('t/x', 'y', { qos: 1 })).rejects.toThrow(/disconnected/);
  });

  it('keeps an idle link alive with PINGREQs, and calls a silent one dead ("Keepalive timeout")', async () => {
    const b = await broker();
    // A keep-alive of 1 s, idle for 2.5 s: without pings aedes would close it after 1.5 s.
    const c = light(b.mqttUrl, { keepalive: 1 });
    await once(c, 'connect');
    let closed = false;
    c.on('close', () => (closed = true));
    await new Promise((r) => setTimeout(r, 2500));
    expect(closed).toBe(false);
    expect(c.connected).toBe(true);

    // A listener that completes the handshake and then never answers again: a black hole.
    const hole = net.createServer((s) => s.once('data', () => s.write(Buffer.from([0x20, 0x02, 0x00, 0x00]))));
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
    opened.push({ end: () => new Promise((r) => hole.close(r)) });
    const port = (hole.address() as net.AddressInfo).port;
    const silent = light(`mqtt://127.0.0.1:${port}`, { keepalive: 1 });
    await once(silent, 'connect');
    const err = await once<Error>(silent, 'error');
    expect(err.message).toBe('Keepalive timeout');
  });

  it('reports a refused CONNECT with the reason, and closes', async () => {
    const b = await startBroker({ port: 0, wsPort: null });
    opened.push({ end: () => b.close() });
    const refusing = net.createServer((s) => s.once('data', () => s.write(Buffer.from([0x20, 0x02, 0x00, 0x05]))));
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    opened.push({ end: () => new Promise((r) => refusing.close(r)) });
    const c = light(`mqtt://127.0.0.1:${(refusing.address() as net.AddressInfo).port}`, {});
    const closed = once(c, 'close');
    expect((await once<Error>(c, 'error')).message).toBe('Connection refused: Not authorized');
    await closed;
    expect(c.connected).toBe(false);
  });

  it('opens its socket from the local address it is given', async () => {
    const b = await broker();
    const c = light(b.mqttUrl, { localAddress: '127.0.0.3' });
    await once(c, 'connect');
    expect(c.stream!.localAddress).toBe('127.0.0.3');
  });

  it('refuses what it does not speak, saying so', () => {
    expect(() => new LightMqttClient('ws://127.0.0.1:1/mqtt', {})).toThrow(/mqtt:\/\/ and mqtts:\/\/ only/);
    expect(() => new LightMqttClient('mqtt://127.0.0.1:1', { protocolVersion: 5 })).toThrow(/3\.1\.1 only/);
  });
});

describe('light MQTT codec', () => {
  it('cuts packets out of a stream however it is split, including a remaining length of several bytes', () => {
    const big = 'x'.repeat(20_000); // remaining length needs 3 bytes
    const bytes = Buffer.concat([encodePublish('a/b', 'hi', 1, false, 7), encodePublish('c', big, 0, true, 0)]);
    for (const cut of [1, 2, 3, 5, 9, 1000, bytes.length - 1]) {
      const got: Incoming[] = [];
      const reader = new PacketReader();
      reader.read(bytes.subarray(0, cut), (p) => got.push(p));
      reader.read(bytes.subarray(cut), (p) => got.push(p));
      expect(
        got.map((p) => (p.type === 'publish' ? [p.topic, p.payload.length, p.qos, p.messageId, p.retain] : p)),
      ).toEqual([
        ['a/b', 2, 1, 7, false],
        ['c', 20_000, 0, 0, true],
      ]);
    }
  });

  it('refuses a remaining length longer than four bytes', () => {
    expect(() => new PacketReader().read(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => {})).toThrow(
      /remaining length over 4 bytes/,
    );
  });
});

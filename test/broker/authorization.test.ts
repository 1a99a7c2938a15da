/** The ACL on a real broker: a device cannot read or speak another device's payments; the backend can. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { RunningBroker } from '../../broker/broker.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';
import { makeNotification, topics } from '../../src/protocol/index.ts';
import {
  closed,
  connectBackend,
  connectDevice,
  connected,
  end,
  provision,
  startSecureBroker,
  tempDataDir,
} from './helpers.ts';

const notification = (device: string, id: string) =>
  JSON.stringify(
    makeNotification({
      id,
      device,
      amount: 100,
      currency: 'CNY',
      channel: 'wechat',
      kind: 'payment',
      createdAt: Date.now(),
    }),
  );

/** The QoS granted per filter; 128 is the broker's refusal. MQTT.js rejects a SUBACK that refuses every filter. */
async function granted(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    return (err as { packet: { granted: number[] } }).packet.granted;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when the broker closes the client's connection; fails after `ms` saying what it did not refuse. */
function closedWithin(client: MqttClient, ms: number, what: string): Promise<void> {
  return Promise.race([
    closed(client),
    sleep(ms).then(() => Promise.reject(new Error(`the broker kept the connection open after ${what}`))),
  ]);
}

describe('authorization', () => {
  const dataDir = tempDataDir();
  const { log, lines } = captureLog();
  const secrets: Record<string, string> = {};
  let broker: RunningBroker;

  beforeAll(async () => {
    for (const id of ['SPK-0001', 'SPK-0002']) secrets[id] = provision(dataDir, id).password;
    broker = await startSecureBroker(dataDir, log);
  });
  afterAll(() => broker.close());

  it("refuses a device's subscriptions to another device's topics and to wildcards, and logs once per rule, then a count", async () => {
    const device = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
    const before = lines.length;
    const filters = [
      topics.notify('SPK-0001'),
      topics.notify('SPK-0002'),
      topics.command('SPK-0002'),
      topics.allAcks,
      'payspeaker/#',
      topics.command('SPK-0001'),
    ];
    expect(await granted(device, filters)).toEqual([1, 128, 128, 128, 128, 1]);
    // The first refusal of each rule (another device's topic; a wildcard) at once...
    const refusals = lines.slice(before).filter((l) => l.level === LEVEL.warn);
    expect(refusals.map((l) => [l.topic, l.rule])).toEqual([
      [topics.notify('SPK-0002'), 'another-device'],
      [topics.allAcks, 'wildcard'],
    ]);
    expect(refusals[0]!.msg).toMatch(
      /refused subscribe by device SPK-0001 to payspeaker\/v1\/devices\/SPK-0002\/notify/,
    );
    // ...and the rest as a count once the second is over: a SUBSCRIBE cannot flood the log.
    await sleep(1300);
    const counts = lines.slice(before + 2).filter((l) => l.level === LEVEL.warn);
    expect(counts.map((l) => [l.suppressed, l.msg])).toEqual([
      [1, expect.stringMatching(/^1 more suppressed .*refused subscribes by device SPK-0001 \(another-device\)/)],
      [1, expect.stringMatching(/^1 more suppressed .*refused subscribes by device SPK-0001 \(wildcard\)/)],
    ]);
    expect(device.connected).toBe(true); // a refused subscription is not a reason to disconnect
    await end(device);
  });

  it("never delivers another device's notifications, even on a refused wildcard", async () => {
    const snoop = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
    const seen: string[] = [];
    snoop.on('message', (topic) => seen.push(topic));
    await granted(snoop, ['payspeaker/v1/devices/+/notify', topics.notify('SPK-0002'), '#']);
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    await backend.publishAsync(topics.notify('SPK-0002'), notification('SPK-0002', 'PAY-SECRET-1'), { qos: 1 });
    await sleep(200);
    expect(seen).toEqual([]);
    await Promise.all([end(snoop), end(backend)]);
  });

  it("does not queue another device's notifications for a persistent session that asked for them with a refused filter", async () => {
    // aedes 1.2 stores every filter of a SUBSCRIBE packet in the session, refused ones too.
    const greedy = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
    expect(await granted(greedy, [topics.notify('SPK-0001'), '#', topics.notify('SPK-0002')])).toEqual([1, 128, 128]);
    await new Promise<void>((resolve) => greedy.end(false, {}, () => resolve())); // clean DISCONNECT: the session stays
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    await backend.publishAsync(topics.notify('SPK-0002'), notification('SPK-0002', 'PAY-WHILE-AWAY'), { qos: 1 });
    await backend.publishAsync(topics.notify('SPK-0001'), notification('SPK-0001', 'PAY-MINE'), { qos: 1 });
    const back = await connectDeviceCollecting('SPK-0001');
    await sleep(200);
    expect(back.topics).toEqual([topics.notify('SPK-0001')]);
    await Promise.all([end(back.client), end(backend)]);
  });

  async function connectDeviceCollecting(id: string): Promise<{ client: MqttClient; topics: string[] }> {
    const seen: string[] = [];
    // Listen before CONNACK: queued messages arrive right after it.
    const attempt = await connectDevice(broker.mqttUrl, id, secrets[id]!, {}, (c) =>
      c.on('message', (topic, _p, packet) => packet.retain || seen.push(topic)),
    );
    return { client: attempt.client!, topics: seen };
  }

  it('disconnects a device that publishes a notification (to itself or another device) and delivers nothing', async () => {
    const victim = await connected(broker.mqttUrl, 'SPK-0002', secrets['SPK-0002']!);
    await victim.subscribeAsync(topics.notify('SPK-0002'), { qos: 1 });
    const heard: string[] = [];
    victim.on('message', (_t, payload) => heard.push(payload.toString()));

    for (const target of ['SPK-0002', 'SPK-0001']) {
      const forger = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
      const before = lines.length;
      forger.publish(topics.notify(target), notification(target, `PAY-FAKE-${target}`), { qos: 1 });
      await closed(forger);
      const refusals = lines.slice(before).filter((l) => l.level === LEVEL.warn);
      expect(refusals).toHaveLength(1);
      expect(refusals[0]!.msg).toMatch(
        new RegExp(`refused publish by device SPK-0001 to payspeaker/v1/devices/${target}/notify`),
      );
      await end(forger);
    }
    await sleep(100);
    expect(heard).toEqual([]);
    await end(victim);
  });

  it('refuses a retained ack, telemetry or command result (the connection closes) and keeps nothing for a later subscriber', async () => {
    const planted = [topics.ack('SPK-0001'), topics.telemetry('SPK-0001'), topics.commandResult('SPK-0001')];
    const before = lines.length;
    for (const topic of planted) {
      const device = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
      device.publish(topic, JSON.stringify({ v: 1, planted: topic }), { qos: 1, retain: true });
      await closedWithin(device, 3000, `a retained publish on ${topic}`);
      await end(device);
    }
    expect(lines.slice(before).filter((l) => l.level === LEVEL.warn)[0]).toMatchObject({
      rule: 'retained',
      msg: expect.stringMatching(/refused publish by device SPK-0001 to .*\/ack: ack messages may not be retained/),
    });
    // The device's own state stays retained: that is what it is for.
    const device = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
    const state = JSON.stringify({ v: 1, device: 'SPK-0001', online: true, planted: false });
    await device.publishAsync(topics.state('SPK-0001'), state, { qos: 1, retain: true });
    expect(device.connected).toBe(true);
    await new Promise<void>((resolve) => device.end(false, {}, () => resolve())); // clean: no will
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    const retained: [string, string][] = [];
    backend.on('message', (topic, payload, packet) => packet.retain && retained.push([topic, payload.toString()]));
    await backend.subscribeAsync([...planted, topics.state('SPK-0001')], { qos: 1 });
    await sleep(300);
    expect(retained).toEqual([[topics.state('SPK-0001'), state]]);
    await end(backend);
  });

  it('lets a device publish its own ack, state, telemetry and command results, which the backend receives', async () => {
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    expect(
      await granted(backend, [
        topics.allAcks,
        topics.allStates,
        'payspeaker/v1/devices/+/telemetry',
        'payspeaker/v1/devices/+/cmd/result',
      ]),
    ).toEqual([1, 1, 1, 1]);
    const got: string[] = [];
    backend.on('message', (topic, _payload, packet) => packet.retain || got.push(topic)); // retained: earlier tests' wills
    const device = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
    const own = [
      topics.ack('SPK-0001'),
      topics.state('SPK-0001'),
      topics.telemetry('SPK-0001'),
      topics.commandResult('SPK-0001'),
    ];
    for (const topic of own) await device.publishAsync(topic, '{}', { qos: 1 });
    await sleep(100);
    expect(got.sort()).toEqual([...own].sort());
    expect(device.connected).toBe(true);
    await Promise.all([end(device), end(backend)]);
  });

  it('lets the backend publish notifications and commands that reach only the addressed device', async () => {
    const one = await connected(broker.mqttUrl, 'SPK-0001', secrets['SPK-0001']!);
    const two = await connected(broker.mqttUrl, 'SPK-0002', secrets['SPK-0002']!);
    const heard: Record<string, string[]> = { 'SPK-0001': [], 'SPK-0002': [] };
    for (const [id, c] of [
      ['SPK-0001', one],
      ['SPK-0002', two],
    ] as const) {
      await c.subscribeAsync([topics.notify(id), topics.command(id)], { qos: 1 });
      c.on('message', (topic) => heard[id]!.push(topic));
    }
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    await backend.publishAsync(topics.notify('SPK-0001'), notification('SPK-0001', 'PAY-1'), { qos: 1 });
    await backend.publishAsync(topics.command('SPK-0002'), '{"v":1,"id":"CMD-1","command":"replay"}', { qos: 1 });
    await sleep(100);
    expect(heard).toEqual({ 'SPK-0001': [topics.notify('SPK-0001')], 'SPK-0002': [topics.command('SPK-0002')] });
    expect(backend.connected).toBe(true);
    await Promise.all([end(one), end(two), end(backend)]);
  });

  it('disconnects a backend that publishes as a device', async () => {
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    backend.publish(topics.ack('SPK-0001'), '{}', { qos: 1 });
    await closed(backend);
    await end(backend);
  });

  it("publishes a device's own last will when it vanishes", async () => {
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    await backend.subscribeAsync(topics.state('SPK-0002'), { qos: 1 });
    const states: string[] = [];
    backend.on('message', (_t, payload) => states.push(payload.toString()));
    const device = await connected(broker.mqttUrl, 'SPK-0002', secrets['SPK-0002']!);
    device.stream.destroy(); // vanish without DISCONNECT
    await sleep(200);
    expect(states.map((s) => JSON.parse(s) as { online: boolean }).at(-1)).toMatchObject({ online: false });
    await Promise.all([end(device), end(backend)]);
  });
});

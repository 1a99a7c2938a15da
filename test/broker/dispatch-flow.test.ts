/**
 * The dispatcher's flow control, against a real secure broker and a real MQTT connection that
 * plays a device too slow to PUBACK: the outbox must not pile copies on it (one copy of a
 * payment in flight at a time, at most 100 payments per device), and nothing held back is lost
 * once the device catches up. Without this, a 100,000-payment chaos run grew a retry storm
 * that killed the broker.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { deviceClientId } from '../../broker/auth.ts';
import { topics } from '../../src/protocol/index.ts';
import { until } from '../support/mqtt.ts';
import { backendCredentials, provision, tempDataDir } from './helpers.ts';

const DEVICE = 'SPK-SLOW';
const PAYMENTS = 300;

let dir: string;
let broker: RunningBroker;
let device: MqttClient;
/** Payment ids as the device received them. */
const copies: string[] = [];
/** Payment ids of the copies the broker's dispatcher published for the device. */
const sent: string[] = [];
const withheld: Array<() => void> = [];
let keepUp = false;

beforeAll(async () => {
  dir = tempDataDir();
  broker = await startBroker({
    port: 0,
    wsPort: null,
    security: { mode: 'secure', dataDir: dir },
    // Retries every 50-200 ms: a storm would show within a second.
    service: { dataDir: dir, httpPort: 0, retry: { baseMs: 100, maxMs: 200 }, pollMs: 20 },
  });
  broker.aedes.on('publish', (packet, client) => {
    if (client === null && packet.topic === topics.notify(DEVICE)) sent.push(JSON.parse(packet.payload.toString()).id);
  });
  const creds = provision(dir, DEVICE);
  device = await mqtt.connectAsync(broker.mqttUrl, {
    clientId: deviceClientId(DEVICE),
    clean: false,
    reconnectPeriod: 0,
    ...creds,
  });
  // MQTT.js sends the PUBACK when handleMessage calls back, and reads nothing more until then:
  // holding the callback makes a device that stops PUBACKing (the broker's copies queue up).
  device.handleMessage = (packet, callback) => {
    copies.push(JSON.parse((packet as IPublishPacket).payload.toString()).id);
    if (keepUp) callback();
    else withheld.push(() => callback());
  };
  await device.subscribeAsync(topics.notify(DEVICE), { qos: 1 });
}, 30_000);

afterAll(async () => {
  await device?.endAsync(true);
  await broker?.close();
});

it('sends a device that does not PUBACK at most 100 payments, one copy each, and the rest once it catches up', async () => {
  const token = backendCredentials(dir).password;
  const ids: string[] = [];
  for (let i = 0; i < PAYMENTS; i++) {
    const res = await fetch(`${broker.service!.httpUrl}/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ device: DEVICE, amount: 100 + i, currency: 'CNY', channel: 'wechat' }),
    });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { payment: { id: string } }).payment.id);
  }
  await until(() => sent.length >= 100, '100 copies sent to the slow device', 10_000);
  // A second: five to twenty retry rounds, none of which may add a copy.
  await new Promise((r) => setTimeout(r, 1000));
  expect(copies.length).toBeGreaterThan(0);
  expect(sent).toHaveLength(100);
  expect(new Set(sent).size).toBe(100);

  keepUp = true;
  for (const puback of withheld.splice(0)) puback();
  await until(() => ids.every((id) => copies.includes(id)), `all ${PAYMENTS} payments at the device`, 20_000);
  const api = broker.service!.outbox;
  await until(() => ids.every((id) => api.find(id)?.status === 'delivered'), 'every payment delivered', 10_000);
  expect(new Set(sent).size).toBe(PAYMENTS);
  // Held back, not overtaken: the device heard them in the order they were accepted.
  expect([...new Set(copies)]).toEqual(ids);
});

it("does not count a copy sent between a device's CONNECT and its SUBSCRIBE as in flight: it reaches nobody", async () => {
  const id = 'SPK-LATE-SUB';
  const creds = provision(dir, id);
  const late = await mqtt.connectAsync(broker.mqttUrl, {
    clientId: deviceClientId(id),
    clean: false,
    reconnectPeriod: 0,
    ...creds,
  });
  const heard = new Set<string>();
  late.on('message', (_t, payload) => heard.add(JSON.parse(payload.toString()).id));
  try {
    const token = backendCredentials(dir).password;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${broker.service!.httpUrl}/v1/payments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ device: id, amount: 100 + i, currency: 'CNY', channel: 'wechat' }),
      });
      ids.push(((await res.json()) as { payment: { id: string } }).payment.id);
    }
    await new Promise((r) => setTimeout(r, 600)); // retry rounds while connected but not subscribed
    await late.subscribeAsync(topics.notify(id), { qos: 1 });
    // Well inside the 30 s an in-flight copy would block a retry for.
    await until(() => ids.every((p) => heard.has(p)), 'every payment once the device subscribes', 5_000);
  } finally {
    await late.endAsync(true);
  }
});

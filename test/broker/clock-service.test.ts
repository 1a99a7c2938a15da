/**
 * The broker's clock service (broker/clock-service.ts) on a real aedes: it answers a device's own
 * request, signed, with the request's nonce; at most once per device per interval; never a
 * request made under another device's id, nor a malformed one. On a bare aedes, so that only
 * this service answers whatever startBroker starts.
 */
import { generateKeyPairSync } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTimeRequest, parseTimeAnswer, topics, type TimeAnswer } from '../../src/protocol/index.ts';
import { signTimeAnswer, verifyTimeAnswer } from '../../src/protocol/signing-node.ts';
import { startClockService } from '../../broker/clock-service.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { until } from '../support/mqtt.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
let aedes: Aedes;
let server: net.Server;
let url: string;
let stop: () => void;
const clients: MqttClient[] = [];

beforeAll(async () => {
  aedes = await Aedes.createBroker();
  server = net.createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stop = startClockService(aedes, { sign: (a) => signTimeAnswer(a, privateKey), minIntervalMs: 300 });
});
afterAll(async () => {
  stop();
  await Promise.all(clients.map((c) => endClient(c)));
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A client connected as device `id` (client id payspeaker-<id>), listening to its own time topic. */
async function device(id: string): Promise<{ client: MqttClient; answers: TimeAnswer[] }> {
  const client = await connectOnce(url, { clientId: `payspeaker-${id}` });
  clients.push(client);
  const answers: TimeAnswer[] = [];
  client.on('message', (_topic, payload) => {
    const parsed = parseTimeAnswer(payload, id);
    if (parsed.ok) answers.push(parsed.value);
  });
  await client.subscribeAsync(topics.time(id), { qos: 0 });
  return { client, answers };
}

const ask = (client: MqttClient, id: string, nonce: string) =>
  client.publishAsync(topics.timeRequest(id), encodeTimeRequest({ v: 1, nonce }), { qos: 1 });
const settle = () => new Promise((r) => setTimeout(r, 150));

describe('clock service', () => {
  it('answers with the nonce, the broker’s time and the backend’s signature', async () => {
    const { client, answers } = await device('SPK-T1');
    const before = Date.now();
    await ask(client, 'SPK-T1', 'a'.repeat(32));
    await until(() => answers.length === 1, 'an answer');
    const a = answers[0]!;
    expect(a).toMatchObject({ v: 1, device: 'SPK-T1', nonce: 'a'.repeat(32) });
    expect(a.now).toBeGreaterThanOrEqual(before);
    expect(a.now).toBeLessThanOrEqual(Date.now());
    expect(verifyTimeAnswer(a, publicKey)).toEqual({ ok: true });
  });

  it('answers a device at most once per interval, so it cannot make the broker sign in a loop', async () => {
    const { client, answers } = await device('SPK-T2');
    for (let i = 0; i < 20; i++) await ask(client, 'SPK-T2', `${i}`.padStart(16, 'b'));
    await settle();
    expect(answers).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 350));
    await ask(client, 'SPK-T2', 'c'.repeat(16));
    await until(() => answers.length === 2, 'a second answer after the interval');
    expect(answers[1]!.nonce).toBe('c'.repeat(16));
  });

  it('never answers a request made under another device’s id, nor a malformed one', async () => {
    const victim = await device('SPK-T3');
    const other = await device('SPK-T4');
    await ask(other.client, 'SPK-T3', 'd'.repeat(32));
    const backend = await connectOnce(url, { clientId: 'test-backend-clock' });
    clients.push(backend);
    await ask(backend, 'SPK-T3', 'e'.repeat(32));
    await victim.client.publishAsync(topics.timeRequest('SPK-T3'), '{"v":1,"nonce":"XYZ"}', { qos: 1 });
    await victim.client.publishAsync(topics.timeRequest('SPK-T3'), 'not json', { qos: 1 });
    await settle();
    expect(victim.answers).toEqual([]);
    expect(other.answers).toEqual([]);
  });
});

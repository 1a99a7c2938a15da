/**
 * Bad notifications reach a real device process over a real broker: each one is acked
 * `rejected` with a specific reason, the device keeps running, and the next valid payment
 * is announced.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess } from '../support/cli.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { parseAck, topics, type Ack } from '../../src/protocol/index.ts';
import type { RunningBroker } from '../../broker/broker.ts';

const DEVICE = 'SPK-E2E-BAD';
let broker: RunningBroker;
let device: CliProcess;
let backend: MqttClient;
let wavDir: string;
const acks: Ack[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  wavDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-bad-'));
  device = new CliProcess([
    'device',
    '--insecure',
    '--id',
    DEVICE,
    '--broker',
    broker.mqttUrl,
    '--audio',
    `file:${wavDir}`,
    '--json',
  ]);
  await device.waitForEvent((e) => e.event === 'online');
  backend = await connectOnce(broker.mqttUrl, { clientId: 'test-backend-bad' });
  backend.on('message', (_t, payload) => acks.push(parseAck(payload)));
  await backend.subscribeAsync(topics.ack(DEVICE), { qos: 1 });
});

afterAll(async () => {
  await endClient(backend);
  expect(await device.stop()).toBe(0);
  await broker.close();
  fs.rmSync(wavDir, { recursive: true, force: true });
});

/** Publishes one raw payload and resolves with the device's ack to it. */
async function send(payload: string | Buffer): Promise<Ack> {
  const count = acks.length;
  await backend.publishAsync(topics.notify(DEVICE), payload, { qos: 1 });
  const deadline = Date.now() + 15_000;
  while (acks.length === count) {
    if (Date.now() > deadline) throw new Error(`no ack; device stderr:\n${device.stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return acks[count]!;
}

let seq = 0;
const good = (patch: Record<string, unknown> = {}) => ({
  v: 1,
  id: `PAY-BAD-${++seq}`,
  device: DEVICE,
  amount: 500,
  currency: 'CNY',
  channel: 'wechat',
  kind: 'payment',
  createdAt: Date.now(),
  ...patch,
});
const drop = (field: string) => Object.fromEntries(Object.entries(good()).filter(([k]) => k !== field));

describe('a device under bad notifications', () => {
  const cases: [string, () => string | Buffer, string][] = [
    ['malformed JSON', () => '{"v":1,"id":', 'malformed-json'],
    ['a JSON array', () => '[1,2,3]', 'not-an-object'],
    ['missing amount', () => JSON.stringify(drop('amount')), 'missing-field'],
    ['missing currency', () => JSON.stringify(drop('currency')), 'missing-field'],
    ['amount as a string', () => JSON.stringify(good({ amount: '5.00' })), 'invalid-amount'],
    ['zero amount', () => JSON.stringify(good({ amount: 0 })), 'invalid-amount'],
    ['negative amount', () => JSON.stringify(good({ amount: -500 })), 'invalid-amount'],
    ['fractional amount', () => JSON.stringify(good({ amount: 5.5 })), 'invalid-amount'],
    ['huge amount', () => JSON.stringify(good({ amount: 10 ** 15 })), 'amount-out-of-range'],
    ['unknown currency', () => JSON.stringify(good({ currency: 'DOGE' })), 'unknown-currency'],
    ['unknown channel', () => JSON.stringify(good({ channel: 'venmo' })), 'unknown-channel'],
    ['wrong version', () => JSON.stringify(good({ v: 2 })), 'unsupported-version'],
    ['another device id', () => JSON.stringify(good({ device: 'SPK-OTHER' })), 'wrong-device'],
    ['oversized payload (64 KB)', () => JSON.stringify(good({ pad: 'x'.repeat(64 * 1024) })), 'payload-too-large'],
  ];

  it.each(cases)('rejects %s', async (_name, payload, reason) => {
    const ack = await send(payload());
    expect(ack).toMatchObject({ status: 'rejected', reason, device: DEVICE });
    expect(ack.detail).toEqual(expect.any(String));
    const event = await device.waitForEvent((e) => e.event === 'rejected' && e.detail === ack.detail);
    expect(event.reason).toBe(reason);
  });

  it('is still running and announces the next valid payment', async () => {
    expect(device.child.exitCode).toBeNull();
    const payment = good({ amount: 100500, channel: 'alipay' });
    const ack = await send(JSON.stringify(payment));
    expect(ack).toMatchObject({ id: payment.id, status: 'played', text: '支付宝到账一千零五元' });
    // One payment WAV (the others are the status prompts: power-on, network connected).
    expect(fs.readdirSync(wavDir).filter((f) => f.includes('PAY-BAD'))).toEqual([expect.stringContaining(payment.id)]);
  });
});

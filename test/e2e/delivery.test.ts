/**
 * Delivery across a broker crash, all real processes: payments accepted by the API while the
 * speaker is off, the broker killed with SIGKILL, restarted on the same data directory, and
 * the speaker started afterwards. Every accepted payment is announced exactly once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../support/cli.ts';
import { freePort } from '../../tools/chaos/ports.ts';
import { tempDataDir } from '../broker/helpers.ts';
import { NotificationApi } from '../../tools/api/client.ts';
import { readBackendCredentials } from '../../broker/credentials.ts';

const DEVICE = 'SPK-CRASH';
let dir: string;
let brokerArgs: string[];
let apiUrl: string;
const running: CliProcess[] = [];

async function startBrokerProcess(): Promise<CliProcess> {
  const broker = new CliProcess(brokerArgs);
  running.push(broker);
  await broker.waitForEvent((e) => e.event === 'listening');
  return broker;
}

beforeAll(async () => {
  dir = tempDataDir();
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${httpPort}`;
  brokerArgs = [
    'broker',
    '--data',
    dir,
    '--port',
    String(mqttPort),
    '--no-ws-port',
    '--http-port',
    String(httpPort),
    '--retry-after',
    '300ms',
    '--retry-max',
    '1s',
    '--json',
  ];
  await startBrokerProcess();
  const r = await runCli([
    'provision',
    DEVICE,
    '--data',
    dir,
    '--broker',
    `mqtt://127.0.0.1:${mqttPort}`,
    '--out',
    path.join(dir, `${DEVICE}.json`),
  ]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  for (const p of running) await p.stop();
});

describe('a broker killed with SIGKILL', () => {
  it('loses no accepted payment and announces each exactly once after restart', async () => {
    // `pay` through the API with nobody listening: accepted, then a timeout that says it is still being retried.
    const paid = await runCli([
      'pay',
      '1.00',
      '--device',
      DEVICE,
      '--api',
      apiUrl,
      '--data',
      dir,
      '--timeout',
      '1s',
      '--idempotency-key',
      'crash-0',
    ]);
    expect(paid.code, paid.stderr).toBe(4);
    expect(paid.stderr).toMatch(
      /no final ack for PAY-\S+ within 1 s; it is queued and the service keeps retrying until/,
    );

    const api = new NotificationApi(apiUrl, readBackendCredentials(dir)!.password);
    const ids = new Set<string>();
    for (let i = 0; i <= 20; i++) {
      const { payment } = await api.createPayment({
        device: DEVICE,
        amount: 100 + i,
        currency: 'CNY',
        channel: 'wechat',
        idempotencyKey: `crash-${i}`,
      });
      ids.add(payment.id);
    }
    expect(ids.size).toBe(21); // crash-0 is the payment `pay` made, not a new one

    const broker = running.at(-1)!;
    broker.child.kill('SIGKILL');
    await broker.exited();
    await startBrokerProcess();
    // The idempotency keys survived too.
    expect(
      (
        await api.createPayment({
          device: DEVICE,
          amount: 100,
          currency: 'CNY',
          channel: 'wechat',
          idempotencyKey: 'crash-0',
        })
      ).created,
    ).toBe(false);

    const device = new CliProcess([
      'device',
      '--config',
      path.join(dir, `${DEVICE}.json`),
      '--audio',
      `file:${dir}/wav`,
      '--burst-depth',
      '100',
      '--json',
    ]);
    running.push(device);
    const finals = await Promise.all([...ids].map((id) => api.waitFinal(id, 30_000)));
    expect(finals.map((f) => f.payment.status)).toEqual([...ids].map(() => 'played'));
    const wavs = fs.readdirSync(`${dir}/wav`).filter((f) => f.endsWith('.wav') && f.includes('PAY-'));
    expect(wavs).toHaveLength(21);
    for (const id of ids) expect(wavs.filter((w) => w.endsWith(`${id}.wav`))).toHaveLength(1);
  }, 90_000);
});

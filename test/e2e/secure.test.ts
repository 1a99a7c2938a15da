/**
 * The trusted path end to end, all real processes: a secure broker with its registry, a device
 * provisioned by the CLI and started from its config file, and `pay` signing with the
 * backend's key. Forged, unsigned, altered and replayed notifications never reach the speaker's
 * audio output, whoever publishes them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../support/cli.ts';
import { until } from '../support/mqtt.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { makeNotification, parseAck, topics, type Ack, type Notification } from '../../src/protocol/index.ts';
import { signNotification } from '../../src/protocol/signing-node.ts';
import { readBackendCredentials } from '../../broker/credentials.ts';
import type { MqttClient } from 'mqtt';

const DEVICE = 'SPK-SEC';
let dir: string;
let broker: CliProcess;
let device: CliProcess;
let url: string;
let backend: MqttClient;
const acks: Ack[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-secure-'));
  broker = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--data', dir, '--json']);
  url = (await broker.waitForEvent<{ mqtt: string }>((e) => e.event === 'listening')).mqtt;
  const provisioned = await runCli([
    'provision',
    DEVICE,
    '--data',
    dir,
    '--broker',
    url,
    '--out',
    `${dir}/${DEVICE}.json`,
  ]);
  expect(provisioned.code, provisioned.stderr).toBe(0);
  device = new CliProcess(['device', '--config', `${dir}/${DEVICE}.json`, '--audio', `file:${dir}/wav`, '--json']);
  await device.waitForEvent((e) => e.event === 'online');
  backend = await connectOnce(url, { clientId: 'backend-test', ...readBackendCredentials(dir)! });
  backend.on('message', (_t, p) => acks.push(parseAck(p)));
  await backend.subscribeAsync(topics.ack(DEVICE), { qos: 1 });
}, 60_000);

afterAll(async () => {
  await endClient(backend);
  expect(await device.stop()).toBe(0);
  expect(await broker.stop()).toBe(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

const spoken = (id: string) => fs.readdirSync(`${dir}/wav`).filter((f) => f.includes(id) && f.endsWith('.wav'));

async function publish(n: Notification | string): Promise<Ack> {
  const count = acks.length;
  await backend.publishAsync(topics.notify(DEVICE), typeof n === 'string' ? n : JSON.stringify(n), { qos: 1 });
  await until(() => acks.length > count, 'an ack');
  return acks[count]!;
}

let seq = 0;
const fresh = (amount = 100): Notification =>
  makeNotification({
    id: `PAY-SEC-${++seq}`,
    device: DEVICE,
    amount,
    currency: 'CNY',
    channel: 'wechat',
    kind: 'payment',
    createdAt: Date.now(),
  });

describe('signed notifications on a secure broker', () => {
  it('`pay` signs with the backend key from the data dir, and the provisioned speaker plays it', async () => {
    const r = await runCli([
      'pay',
      '--direct',
      '123.45',
      '--device',
      DEVICE,
      '--broker',
      url,
      '--data',
      dir,
      '--id',
      'PAY-SEC-REAL',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'played', text: '微信收款一百二十三点四五元' });
    expect(spoken('PAY-SEC-REAL')).toHaveLength(1);
  });

  it('never speaks an unsigned, forged or altered notification, even from the real backend connection', async () => {
    const { privateKey: otherKey } = generateKeyPairSync('ed25519');
    const unsigned = fresh(9_999);
    const forged = signNotification(fresh(8_888), otherKey);
    const genuine = await signedByBackend(fresh(100));
    const altered = { ...genuine, amount: 100_000_00 };
    for (const [n, detail] of [
      [unsigned, /no signature/],
      [forged, /does not match/],
      [altered, /does not match/],
    ] as const) {
      const ack = await publish(n);
      expect(ack).toMatchObject({ id: n.id, status: 'rejected', reason: 'bad-signature' });
      expect(ack.detail).toMatch(detail);
      expect(spoken(n.id)).toEqual([]);
    }
  });

  it('acks a replayed signed notification duplicate and does not speak it again', async () => {
    const genuine = JSON.stringify(await signedByBackend(fresh(4_200)));
    expect(await publish(genuine)).toMatchObject({ status: 'played' });
    expect(await publish(genuine)).toMatchObject({ status: 'duplicate' });
    expect(spoken(JSON.parse(genuine).id)).toHaveLength(1);
  });

  it('refuses a backend without credentials (exit 6) and a device publishing notifications', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-nocreds-'));
    const r = await runCli([
      'pay',
      '--direct',
      '1',
      '--device',
      DEVICE,
      '--broker',
      url,
      '--data',
      empty,
      '--insecure',
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/refused the connection \(CONNACK 5|refused the connection \(CONNACK 4/);

    const config = JSON.parse(fs.readFileSync(`${dir}/${DEVICE}.json`, 'utf8')) as {
      username: string;
      password: string;
    };
    const impostor = await connectOnce(url, {
      clientId: `payspeaker-${DEVICE}-2`,
      username: config.username,
      password: config.password,
    }).catch((e: Error) => e);
    expect(impostor).toBeInstanceOf(Error); // a device's credentials only work with its own client id
  });
});

/** What `pay` does: sign with the backend's private key from the broker's data directory. */
async function signedByBackend(n: Notification): Promise<Notification> {
  const { loadBackendPrivateKey } = await import('../../broker/backend-keys.ts');
  const { brokerDir } = await import('../../broker/data-dir.ts');
  return signNotification(n, loadBackendPrivateKey(brokerDir(dir))!);
}

/**
 * `broker --cluster redis://…`: broker processes on one real redis-server share publishes and
 * sessions. A speaker process on broker 1 plays a payment published on broker 2 and the ack comes
 * back through broker 2; a payment queued while the speaker was away reaches it when it comes
 * back on the other broker; and two secure brokers share one --data dir (registry, backend
 * credentials and signing key, made by whichever started first) and one outbox.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../support/cli.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { needs } from '../support/prerequisites.ts';

// Every suite needs a real redis-server; with all of them skipped, vitest skips this file's hooks too.
const redisServer = needs('redis-server');

const DEVICE = 'SPK-C1';
let redis: TestRedis;
let dir: string;
const brokers: CliProcess[] = [];
const speakers: CliProcess[] = [];
const servers: TestRedis[] = [];

beforeAll(async () => {
  servers.push((redis = await startRedis()));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-cluster-'));
});

afterAll(async () => {
  // Every process is stopped before anything is asserted, so a failure leaves none behind.
  // Speakers first, while their brokers are up: a device told to stop just as its broker goes
  // away can miss the signal (device-side, with or without Redis).
  const codes: [string, number | null][] = [];
  for (const s of speakers.splice(0)) codes.push([s.stderr, await s.stop()]);
  codes.push(
    ...(await Promise.all(brokers.splice(0).map(async (b) => [b.stderr, await b.stop()] as [string, number | null]))),
  );
  const clients: string[] = [];
  for (const server of servers.splice(0)) {
    clients.push(String(await server.command('CLIENT', 'LIST')));
    await server.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [stderr, code] of codes) expect(code, stderr).toBe(0);
  // Every broker process ended all its Redis connections on the way out.
  for (const list of clients) expect(list).not.toMatch(/name=payspeaker-broker/);
});

/** A broker process of the cluster on `server`, on free ports; resolves with its MQTT (and HTTP API) URL. */
async function clusterBroker(server: TestRedis, ...extra: string[]): Promise<{ mqtt: string; http: string | null }> {
  const b = new CliProcess(['broker', '--cluster', server.url, '--port', '0', '--no-ws-port', '--json', ...extra]);
  brokers.push(b);
  return b.waitForEvent<{ mqtt: string; http: string | null }>((e) => e.event === 'listening');
}

function speaker(args: string[]): CliProcess {
  const s = new CliProcess(['device', ...args, '--audio', `file:${dir}/wav`, '--json']);
  speakers.push(s);
  return s;
}

describe.skipIf(redisServer.missing)(`two insecure broker processes on one Redis${redisServer.note}`, () => {
  let broker1: string;
  let broker2: string;

  beforeAll(async () => {
    const [one, two] = await Promise.all([
      clusterBroker(redis, '--insecure', '--no-http-port'),
      clusterBroker(redis, '--insecure', '--no-http-port'),
    ]);
    [broker1, broker2] = [one.mqtt, two.mqtt];
  });

  it('a speaker on broker 1 plays a payment published on broker 2, and the ack comes back through broker 2', async () => {
    const device = speaker(['--insecure', '--id', DEVICE, '--broker', broker1]);
    await device.waitForEvent((e) => e.event === 'online');
    const paid = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '123.45',
      '--device',
      DEVICE,
      '--broker',
      broker2,
      '--id',
      'PAY-C-1',
      '--json',
    ]);
    expect(paid.code, paid.stderr).toBe(0);
    expect(JSON.parse(paid.stdout)).toMatchObject({
      id: 'PAY-C-1',
      device: DEVICE,
      status: 'played',
      text: '微信收款一百二十三点四五元',
    });
    expect(await device.waitForEvent((e) => e.event === 'announced' && e.id === 'PAY-C-1')).toMatchObject({
      status: 'played',
      amount: 12345,
    });
    expect(await device.stop()).toBe(0);
    speakers.splice(speakers.indexOf(device), 1);
  });

  it("keeps the speaker's session in Redis: a payment queued while it was away reaches it on the other broker", async () => {
    // The speaker above left broker 1 cleanly; its clean:false session stays in Redis.
    const backend = await DeviceLink.open(broker2, DEVICE);
    try {
      const id = await backend.pay(880, { id: 'PAY-C-2' });
      const device = speaker(['--insecure', '--id', DEVICE, '--broker', broker2]);
      expect(await device.waitForEvent((e) => e.event === 'announced' && e.id === id)).toMatchObject({
        status: 'played',
        amount: 880,
      });
      await until(() => backend.ackFor(id) !== undefined, `the ack for ${id}`, 10_000);
      expect(backend.ackFor(id)).toMatchObject({ status: 'played' });
    } finally {
      await backend.close();
    }
  });
});

describe.skipIf(redisServer.missing)(`two secure broker processes sharing one --data dir${redisServer.note}`, () => {
  it("both take the credentials a device was provisioned with on either; a payment made through broker 2's API plays on broker 1's speaker", async () => {
    const data = path.join(dir, 'data');
    // A cluster of its own: brokers of one cluster must agree on security (see docs/CLUSTER.md).
    const own = await startRedis();
    servers.push(own);
    // Started together on an empty folder: one backend key and one backend secret must come out.
    const [a, b] = await Promise.all([
      clusterBroker(own, '--data', data, '--http-port', '0'),
      clusterBroker(own, '--data', data, '--http-port', '0'),
    ]);
    const config = path.join(dir, 'SPK-C2.json');
    const provisioned = await runCli(['provision', 'SPK-C2', '--data', data, '--broker', a.mqtt, '--out', config]);
    expect(provisioned.code, provisioned.stderr).toBe(0);
    const device = speaker(['--config', config]);
    await device.waitForEvent((e) => e.event === 'online');
    // Signed with the backend key either broker could have made, queued in broker 2's outbox (the
    // shared database), published there, played on broker 1, and the ack recorded back.
    const paid = await runCli(['pay', '5', '--device', 'SPK-C2', '--data', data, '--api', b.http!, '--json']);
    expect(paid.code, paid.stderr).toBe(0);
    expect(JSON.parse(paid.stdout)).toMatchObject({
      device: 'SPK-C2',
      amount: 500,
      status: 'played',
      text: '微信收款五元',
    });
  }, 60_000); // five processes one after another: room for a busy machine
});

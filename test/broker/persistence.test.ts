/**
 * `broker --persistence`: with Redis, a speaker's queued payment and the retained state outlive a
 * broker restart; in memory they do not. Real redis-server processes, real aedes brokers, real
 * MQTT.js clients. Also: bad URLs and an unusable Redis fail at once with what to do, an outage
 * mid-run is logged (not a crash), and closing leaves no connection behind.
 */
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { openPersistence, parseStoreUrl } from '../../broker/persistence.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { makeNotification, topics } from '../../src/protocol/index.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { needs } from '../support/prerequisites.ts';
import { freePort } from '../../tools/chaos/ports.ts';
import { until } from '../support/mqtt.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';
import type { Logger } from '../../src/log.ts';

// The file's hooks start and flush a real redis-server for every suite: without one all skip (and so do the hooks).
const redisServer = needs('redis-server');

const DEVICE = 'SPK-P1';
let redis: TestRedis;
const brokers: RunningBroker[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => endClient(c)));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  await redis.command('FLUSHALL');
});

afterAll(async () => {
  await redis?.stop();
});

async function broker(persistence: string, log?: Logger): Promise<RunningBroker> {
  const b = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null, persistence, log });
  brokers.push(b);
  return b;
}

async function restart(b: RunningBroker, persistence: string): Promise<RunningBroker> {
  await b.close();
  brokers.splice(brokers.indexOf(b), 1);
  return broker(persistence);
}

/** Connects a speaker-like session; messages are collected from the first packet on (offline ones come right after CONNACK). */
async function speaker(url: string): Promise<{ client: MqttClient; sessionPresent: boolean; got: string[] }> {
  const got: string[] = [];
  const client = mqtt.connect(url, { clientId: DEVICE, clean: false, reconnectPeriod: 0 } satisfies IClientOptions);
  client.on('message', (_topic, payload) => got.push(JSON.parse(payload.toString()).id as string));
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  clients.push(client);
  return { client, sessionPresent: connack.sessionPresent, got };
}

async function backend(url: string): Promise<MqttClient> {
  const client = await connectOnce(url, { clientId: `backend-${Math.random().toString(36).slice(2)}` });
  clients.push(client);
  return client;
}

async function end(client: MqttClient): Promise<void> {
  clients.splice(clients.indexOf(client), 1);
  await endClient(client);
}

const payment = (id: string) =>
  JSON.stringify(
    makeNotification({
      id,
      device: DEVICE,
      amount: 12345,
      currency: 'CNY',
      channel: 'wechat',
      kind: 'payment',
      createdAt: Date.now(),
    }),
  );

/** A payment queued for an offline speaker, a retained state, then a broker restart: what is left? */
async function queueThenRestart(persistence: string) {
  let b = await broker(persistence);
  const first = await speaker(b.mqttUrl);
  // Two topics in one SUBSCRIBE, as the speaker does (aedes-persistence-redis alone never SUBACKs that: see broker/persistence.ts).
  await first.client.subscribeAsync([topics.notify(DEVICE), topics.command(DEVICE)], { qos: 1 });
  await end(first.client);
  const pub = await backend(b.mqttUrl);
  await pub.publishAsync(topics.notify(DEVICE), payment('PAY-P-1'), { qos: 1 });
  await pub.publishAsync(topics.state(DEVICE), JSON.stringify({ online: false }), { qos: 1, retain: true });
  await end(pub);

  b = await restart(b, persistence);
  const again = await speaker(b.mqttUrl);
  const watcher = await backend(b.mqttUrl);
  const retained: string[] = [];
  watcher.on('message', (_t, p) => retained.push(p.toString()));
  await watcher.subscribeAsync(topics.state(DEVICE), { qos: 1 });
  return { again, retained };
}

describe.skipIf(redisServer.missing)(`--persistence redis://…${redisServer.note}`, () => {
  it('keeps a clean:false session and its queued QoS 1 payment, and the retained state, across a broker restart', async () => {
    const { again, retained } = await queueThenRestart(redis.url);
    expect(again.sessionPresent).toBe(true);
    await until(() => again.got.length > 0 && retained.length > 0, 'the queued payment and the retained state', 5000);
    expect(again.got).toEqual(['PAY-P-1']);
    expect(retained).toEqual([JSON.stringify({ online: false })]);
  });

  it('in memory (the default) forgets both: the difference Redis makes', async () => {
    const { again, retained } = await queueThenRestart('memory');
    expect(again.sessionPresent).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(again.got).toEqual([]);
    expect(retained).toEqual([]);
  });

  it('says where sessions live, and closes every Redis connection it opened', async () => {
    const { log, lines } = captureLog();
    const b = await broker(`${redis.url}/3`, log);
    expect(lines.find((l) => l.msg === 'broker listening')).toMatchObject({
      persistence: `redis://127.0.0.1:${redis.port}/3`,
    });
    expect(await payspeakerConnections()).toHaveLength(1);
    await b.close();
    brokers.splice(0);
    // QUIT is answered before the server drops the socket: give it a moment.
    for (const deadline = Date.now() + 2000; (await payspeakerConnections()).length > 0 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 20));
    expect(await payspeakerConnections()).toEqual([]);
  });

  it('logs a Redis outage instead of crashing, works again when Redis is back, and closes within seconds while it is down', async () => {
    const own = await startRedis();
    try {
      const { log, lines } = captureLog();
      const b = await broker(own.url, log);
      await own.stop();
      await until(
        () => lines.some((l) => l.level === LEVEL.warn && /lost the connection to Redis/.test(l.msg)),
        'the outage warning',
        5000,
      );
      const back = await startRedis({ port: own.port });
      try {
        await until(() => lines.some((l) => /is back/.test(l.msg)), 'the recovery line', 10_000);
        const s = await speaker(b.mqttUrl);
        await s.client.subscribeAsync(topics.notify(DEVICE), { qos: 1 });
        expect(await back.command('HEXISTS', `client:${DEVICE}`, topics.notify(DEVICE))).toBe(1);
        await end(s.client);
        await back.stop();
        await until(
          () => lines.filter((l) => /lost the connection/.test(l.msg)).length === 2,
          'the second outage warning',
          5000,
        );
        const started = Date.now();
        await b.close();
        brokers.splice(0);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(lines.filter((l) => l.level >= LEVEL.error)).toEqual([]);
      } finally {
        await back.stop();
      }
    } finally {
      await own.stop();
    }
  });
});

async function payspeakerConnections(): Promise<string[]> {
  return String(await redis.command('CLIENT', 'LIST'))
    .split('\n')
    .filter((l) => /name=payspeaker-broker-/.test(l));
}

describe.skipIf(redisServer.missing)(`bad --persistence and --cluster values${redisServer.note}`, () => {
  it.each([
    [
      'mongodb://localhost/aedes',
      /--persistence "mongodb:\/\/localhost\/aedes" uses mongodb:\/\/, which payspeaker cannot store sessions in: use "memory" or redis:\/\//,
    ],
    ['localhost:6379', /--persistence "localhost:6379" is not a URL/],
    ['redis//localhost', /--persistence "redis\/\/localhost" is not a URL/],
    ['redis://localhost:99999', /is not a URL/],
    ['redis://localhost/zero', /has "\/zero" where the database number goes \(e\.g\. \/0\)/],
    ['redis://admin@localhost', /names user "admin" but no password/],
    ['redis://localhost:6379?db=2', /has a query or fragment/],
    ['redis:///0', /names no host/],
  ])('%s is refused, saying why and what to use', async (value, message) => {
    await expect(startBroker({ port: 0, wsPort: null, persistence: value })).rejects.toThrow(message);
  });

  it('never repeats a password from the URL', async () => {
    const err = await startBroker({ port: 0, wsPort: null, persistence: 'redis://admin:hunter2@localhost/x' }).catch(
      (e: Error) => e,
    );
    expect(String(err)).toMatch(/redis:\/\/admin:\*\*\*@localhost\/x/);
    expect(String(err)).not.toMatch(/hunter2/);
    expect(parseStoreUrl('redis://admin:hunter2@[::1]:7000/4', '--cluster')).toMatchObject({
      url: 'redis://admin:***@[::1]:7000/4',
      options: { host: '::1', port: 7000, db: 4, password: 'hunter2' },
    });
    expect(parseStoreUrl('rediss://cache.example:6380', '--persistence')).toMatchObject({
      options: { tls: { servername: 'cache.example' } },
    });
  });

  it('refuses a cluster without Redis, or with sessions kept elsewhere', async () => {
    await expect(openPersistence({ cluster: 'memory' })).rejects.toThrow(/--cluster needs a Redis URL, got "memory"/);
    await expect(openPersistence({ cluster: redis.url, persistence: 'memory' })).rejects.toThrow(
      /--persistence memory cannot be combined with --cluster/,
    );
    await expect(openPersistence({ cluster: redis.url, persistence: `${redis.url}/2` })).rejects.toThrow(
      /differ: a cluster keeps its sessions in the Redis it shares publishes through/,
    );
  });
});

describe.skipIf(redisServer.missing)(
  `a Redis that cannot be used fails the start at once, naming the URL${redisServer.note}`,
  () => {
    const started = () => Date.now();

    it('nothing listening: refused, in well under the connect timeout', async () => {
      const port = await freePort(); // free: nothing listens there
      const t0 = started();
      await expect(startBroker({ port: 0, wsPort: null, persistence: `redis://127.0.0.1:${port}` })).rejects.toThrow(
        new RegExp(
          `--persistence redis://127\\.0\\.0\\.1:${port}/0: nothing listens there \\(connect ECONNREFUSED .*\\): start redis-server`,
        ),
      );
      expect(Date.now() - t0).toBeLessThan(2000);
    });

    it('a server that never answers: gives up after the connect timeout', async () => {
      const silent = net.createServer(() => {}); // accepts, says nothing
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as net.AddressInfo).port;
      const t0 = started();
      try {
        await expect(openPersistence({ cluster: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 })).rejects.toThrow(
          /--cluster redis:\/\/127\.0\.0\.1:\d+\/0: no answer within 0\.3 s: check the host, the port and any firewall/,
        );
        expect(Date.now() - t0).toBeLessThan(2000);
      } finally {
        silent.close();
      }
    });

    it('a password missing or wrong, or a database Redis does not have', async () => {
      const locked = await startRedis({ password: 's3cret' });
      try {
        const at = `127.0.0.1:${locked.port}`;
        await expect(startBroker({ port: 0, wsPort: null, persistence: `redis://${at}` })).rejects.toThrow(
          /Redis wants a password \(NOAUTH.*\): put it in the URL/,
        );
        await expect(startBroker({ port: 0, wsPort: null, persistence: `redis://:nope@${at}` })).rejects.toThrow(
          /redis:\/\/:\*\*\*@.*: Redis refused the user name or password in the URL \(WRONGPASS/,
        );
        await expect(startBroker({ port: 0, wsPort: null, persistence: `redis://:s3cret@${at}/99` })).rejects.toThrow(
          /Redis has no such database \(ERR DB index is out of range\): use a smaller \/db number/,
        );
        expect(String(await locked.command('CLIENT', 'LIST'))).not.toMatch(/name=payspeaker/);
      } finally {
        await locked.stop();
      }
    });
  },
);

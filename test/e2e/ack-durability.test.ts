/**
 * A device's final ack survives a broker killed with SIGKILL the moment the device has its
 * PUBACK (issue 12): the broker records the ack in the outbox, fsynced, before it PUBACKs
 * (broker/ack-intake.ts). All real processes: a `payspeaker broker`, the HTTP API, and a
 * device connection made here with the device's own credentials.
 *
 * The window is made visible from outside: while the device publishes its ack, this test holds
 * the write lock on the broker's SQLite file (BEGIN IMMEDIATE from its own connection, as a
 * CLI command or another cluster broker might) for LOCK_MS, longer than the outbox's 2 s busy
 * timeout, unless the PUBACK comes first, in which case it kills the broker first.
 * - A broker that PUBACKs before its commit (the ack taken from aedes's 'publish' path) sends
 *   the PUBACK while the lock is held — at once, or, if a dispatcher scan was already waiting
 *   for the lock, when that scan gives up after 2 s — and its commit cannot have happened when it
 *   dies: after the restart the payment is still `delivered`.
 * - A broker that commits first sends no PUBACK while the lock is held. Its commit either waits
 *   for the lock and succeeds, or gives up after 2 s and closes the connection without a PUBACK;
 *   the device, reconnecting, sends the ack again, and it is committed once the lock is released.
 */
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../support/cli.ts';
import { until } from '../support/mqtt.ts';
import { connectDevice, end, provision, tempDataDir } from '../broker/helpers.ts';
import { freePort } from '../../tools/chaos/ports.ts';
import { NotificationApi } from '../../tools/api/client.ts';
import { readBackendCredentials } from '../../broker/credentials.ts';
import { registryFile } from '../../broker/data-dir.ts';
import { PROTOCOL_VERSION, topics, type Ack } from '../../src/protocol/index.ts';

const DEVICE = 'SPK-ACKDUR';
/** Longer than the outbox's busy timeout (2 s): see above. */
const LOCK_MS = 3000;

let dir: string;
let brokerArgs: string[];
let mqttUrl: string;
let api: NotificationApi;
let password: string;
const running: CliProcess[] = [];
const clients: MqttClient[] = [];

async function startBrokerProcess(): Promise<CliProcess> {
  const broker = new CliProcess(brokerArgs);
  running.push(broker);
  await broker.waitForEvent((e) => e.event === 'listening');
  return broker;
}

/**
 * The device: its own credentials and client id, a persistent session, subscribed to its
 * notifications. It reconnects, as the firmware does, and then sends an un-PUBACKed ack again.
 */
async function device(): Promise<{ client: MqttClient; notified: string[] }> {
  const { client } = await connectDevice(mqttUrl, DEVICE, password, { reconnectPeriod: 200 });
  if (!client) throw new Error(`device ${DEVICE} was refused`);
  clients.push(client);
  const notified: string[] = [];
  client.on('message', (_topic, payload) => notified.push((JSON.parse(payload.toString()) as { id: string }).id));
  await client.subscribeAsync(topics.notify(DEVICE), { qos: 1 });
  return { client, notified };
}

const ack = (id: string, status: Ack['status'], extra: Partial<Ack> = {}): Ack => ({
  v: PROTOCOL_VERSION,
  id,
  device: DEVICE,
  status,
  at: Date.now(),
  ...extra,
});

async function pay(amount: number): Promise<string> {
  const { payment } = await api.createPayment({ device: DEVICE, amount, currency: 'CNY', channel: 'wechat' });
  return payment.id;
}

async function statusOf(id: string): Promise<string> {
  return (await api.getPayment(id)).payment.status;
}

async function waitForStatus(id: string, status: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await statusOf(id)) !== status) {
    if (Date.now() > deadline) throw new Error(`payment ${id} is ${await statusOf(id)}, not ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = tempDataDir();
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  brokerArgs = [
    'broker',
    '--data',
    dir,
    '--host',
    '127.0.0.1',
    '--port',
    String(mqttPort),
    '--no-ws-port',
    '--http-port',
    String(httpPort),
    '--json',
  ];
  await startBrokerProcess();
  password = provision(dir, DEVICE).password;
  api = new NotificationApi(`http://127.0.0.1:${httpPort}`, readBackendCredentials(dir)!.password);
}, 30_000);

afterAll(async () => {
  for (const c of clients) await end(c);
  for (const p of running) await p.stop();
});

describe("a device's ack", () => {
  it('is on disk before its PUBACK: a broker killed the moment the PUBACK arrives still says played', async () => {
    const broker = running.at(-1)!;
    const { client, notified } = await device();
    const id = await pay(1234);
    await until(() => notified.includes(id), 'the notification at the device');
    await waitForStatus(id, 'delivered');

    const db = new Database(registryFile(dir));
    db.pragma('busy_timeout = 5000');
    let locked = true;
    const unlock = () => {
      if (!locked) return;
      locked = false;
      db.exec('ROLLBACK');
      db.close();
    };
    let pubackWhileLocked: boolean | null = null;
    const pubacked = new Promise<void>((resolve) =>
      client.on('packetreceive', (packet) => {
        if (packet.cmd !== 'puback' || pubackWhileLocked !== null) return;
        broker.child.kill('SIGKILL'); // at once, in the same turn the PUBACK is read
        pubackWhileLocked = locked;
        resolve();
      }),
    );
    db.exec('BEGIN IMMEDIATE');
    client.publish(topics.ack(DEVICE), JSON.stringify(ack(id, 'played', { text: '微信收款十二点三四元' })), { qos: 1 });
    const timer = setTimeout(unlock, LOCK_MS);
    await Promise.race([
      pubacked,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no PUBACK for the ack within 15 s')), 15_000)),
    ]);
    clearTimeout(timer);
    unlock();
    await broker.exited();
    await end(client); // before the restart: it would reconnect to the new broker

    await startBrokerProcess();
    const { payment, history } = await api.getPayment(id);
    expect({ status: payment.status, text: payment.text, pubackWhileLocked }).toEqual({
      status: 'played',
      text: '微信收款十二点三四元',
      // The PUBACK waited for the commit, which waited for the lock.
      pubackWhileLocked: false,
    });
    expect(history.filter((e) => e.event === 'acked')).toHaveLength(1);
  }, 60_000);

  it('is PUBACKed and recorded once when well formed, and PUBACKed and logged when malformed', async () => {
    const broker = running.at(-1)!;
    const { client, notified } = await device();
    const [retried, duplicate] = [await pay(500), await pay(600)];
    await until(() => notified.includes(retried) && notified.includes(duplicate), 'both notifications');
    // An audio failure moves the payment back to queued with one `retrying` event: recorded twice, it would have two.
    await client.publishAsync(
      topics.ack(DEVICE),
      JSON.stringify(ack(retried, 'rejected', { reason: 'audio-failed', detail: 'no sound card' })),
      { qos: 1 },
    );
    await client.publishAsync(topics.ack(DEVICE), JSON.stringify(ack(duplicate, 'duplicate')), { qos: 1 });
    // Malformed: still PUBACKed (publishAsync resolves on the PUBACK), so the device does not resend it forever.
    await client.publishAsync(topics.ack(DEVICE), '{"not": "an ack"', { qos: 1 });
    // Another device's id in the body: PUBACKed, not recorded.
    await client.publishAsync(
      topics.ack(DEVICE),
      JSON.stringify({ ...ack(duplicate, 'played'), device: 'SPK-OTHER' }),
      { qos: 1 },
    );
    await waitForStatus(duplicate, 'duplicate');
    await until(() => broker.stderr.includes('ignored a malformed ack'), 'the malformed-ack log line', 5_000);
    await new Promise((r) => setTimeout(r, 300)); // room for a second recording, if there were one

    const events = async (id: string) => (await api.getPayment(id)).history.map((e) => e.event);
    expect((await events(retried)).filter((e) => e === 'retrying')).toHaveLength(1);
    expect((await events(duplicate)).filter((e) => e === 'acked')).toHaveLength(1);
    expect(client.connected).toBe(true);
  }, 30_000);
});

/**
 * A final ack that dies with the device. The speaker plays a payment and publishes its `played`
 * ack, the broker holds that ack without answering (as if the link went dark just then), and the
 * device process is SIGKILLed: MQTT.js's copy of the ack, kept in memory, dies with it. The ack
 * is owed in NVS, so the restarted device sends it without the payment being sent again. Before
 * this, the broker re-sent the payment a retry step later, and a busy speaker had by then
 * forgotten its id and refused it as a possible replay (the 100,000-payment chaos run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuthorizePublishHandler } from 'aedes';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess } from '../support/cli.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { topics } from '../../src/protocol/index.ts';
import type { RunningBroker } from '../../broker/broker.ts';

const DEVICE = 'SPK-OWED';
let broker: RunningBroker;
let link: DeviceLink;
let dir: string;
const devices: CliProcess[] = [];
/** While true the broker takes the device's acks and never PUBACKs or forwards them. */
let swallowAcks = false;
const swallowed: string[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  const authorize: AuthorizePublishHandler = broker.aedes.authorizePublish.bind(broker.aedes);
  broker.aedes.authorizePublish = (client, packet, done) => {
    if (swallowAcks && packet.topic === topics.ack(DEVICE)) return void swallowed.push(packet.payload.toString());
    authorize(client, packet, done);
  };
  link = await DeviceLink.open(broker.mqttUrl, DEVICE);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-owed-'));
});

afterAll(async () => {
  for (const d of devices) if (d.child.exitCode === null && d.child.signalCode === null) await d.stop();
  await link.close();
  await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function startDevice(): CliProcess {
  const args = [
    'device',
    '--insecure',
    '--id',
    DEVICE,
    '--broker',
    broker.mqttUrl,
    '--audio',
    `file:${dir}/wav`,
    '--data-dir',
    `${dir}/data`,
    '--json',
  ];
  const device = new CliProcess(args);
  devices.push(device);
  return device;
}

it(
  'sends a played ack that died with a SIGKILLed device after it restarts, without the payment again',
  { timeout: 60_000 },
  async () => {
    const first = startDevice();
    await first.waitForEvent((e) => e.event === 'online');
    swallowAcks = true;
    const id = await link.pay(4321);
    await first.waitForEvent((e) => e.event === 'announced' && e.id === id);
    await until(() => swallowed.some((a) => a.includes(id)), 'the played ack reaching the broker');
    first.child.kill('SIGKILL');
    await first.exited();
    expect(link.ackFor(id)).toBeUndefined();

    swallowAcks = false;
    const second = startDevice();
    await second.waitForEvent((e) => e.event === 'online');
    await until(() => link.ackFor(id) !== undefined, 'the owed ack after the restart', 15_000);
    expect(link.ackFor(id)).toMatchObject({ id, status: 'played', text: '微信收款四十三点二一元' });
    // Announced once, by the first process; the second only owed the ack.
    expect(fs.readdirSync(`${dir}/wav`).filter((f) => f.includes(id) && f.endsWith('.wav'))).toHaveLength(1);
    expect(second.lines.some((l) => l.includes(`"announced"`))).toBe(false);

    // Delivered now: a third boot owes nothing, and a late copy of the payment is a duplicate.
    expect(await second.stop()).toBe(0);
    const third = startDevice();
    await third.waitForEvent((e) => e.event === 'online');
    await link.pay(4321, { id });
    await until(() => link.acks.filter((a) => a.id === id).length >= 2, 'the answer to the late copy');
    expect(link.acks.filter((a) => a.id === id).map((a) => a.status)).toEqual(['played', 'duplicate']);
    expect(await third.stop()).toBe(0);
  },
);

/**
 * A speaker whose clock lost its time (it boots in 1970) takes the time from the broker, as real
 * boxes take it from the network (issue 12), on a secure broker with the backend's key:
 * payments queued while it was away are held, not refused as from the future, and announced once
 * its clock is set; an answer with a wrong nonce, a wrong signature, for another device, or
 * replayed, never sets its clock.
 *
 * The clock service is started here on the secure broker's aedes, as startBroker will
 * (broker/clock-service.ts; once startBroker starts it too, a second signed answer arrives and is
 * ignored, its nonce spent). The answers a speaker must not take are sent by hand on a bare aedes
 * that has no clock service, whatever startBroker does.
 */
import net, { type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import {
  encodeTimeAnswer,
  makeNotification,
  parseAck,
  parseTimeRequest,
  topics,
  type Ack,
  type TimeAnswer,
} from '../../src/protocol/index.ts';
import { signNotification, signTimeAnswer, nodeVerifyingKey } from '../../src/protocol/signing-node.ts';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createSystemClock } from '../../device/drivers/clock.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { clockTrusted, CLOCK_FLOOR_MS, Trust } from '../../device/trust.ts';
import type { Clock } from '../../device/board.ts';
import type { RunningBroker } from '../../broker/broker.ts';
import { startClockService } from '../../broker/clock-service.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { captureLog, type LogLine } from '../fixtures/capture-log.ts';
import { until } from '../support/mqtt.ts';
import { startTestBroker } from '../support/broker.ts';
import { connectBackend, connectDevice, end, provision, startSecureBroker, tempDataDir } from '../broker/helpers.ts';

const voice = createTtsVoice(createEspeakEngine());
const settings = { prompts: false };

interface World {
  url: string;
  keys: { privateKey: KeyObject; publicKey: KeyObject };
  backend: MqttClient;
  acks: Ack[];
  /** The device's MQTT credentials (secure broker), or none (bare broker). */
  credentials(id: string): { username: string; password: string } | undefined;
  /** The secure broker, if this world has one. */
  broker?: RunningBroker;
  close(): Promise<void>;
}

function listenForAcks(backend: MqttClient): Ack[] {
  const acks: Ack[] = [];
  backend.on('message', (topic, payload) => {
    if (topic.endsWith('/ack')) acks.push(parseAck(payload));
  });
  return acks;
}

/** A secure broker with its registry and backend key. */
async function secureWorld(): Promise<World> {
  const dir = tempDataDir();
  const broker = await startSecureBroker(dir);
  const keys = loadOrCreateBackendKeys(brokerDir(dir));
  const backend = await connectBackend(broker.mqttUrl, dir);
  const provisioned = new Map<string, { username: string; password: string }>();
  const credentials = (id: string) => {
    if (!provisioned.has(id)) provisioned.set(id, { username: id, password: provision(dir, id).password });
    return provisioned.get(id)!;
  };
  return {
    url: broker.mqttUrl,
    keys,
    backend,
    acks: listenForAcks(backend),
    credentials,
    broker,
    close: async () => {
      await end(backend);
      await broker.close();
    },
  };
}

/** A bare aedes on a loopback port: no ACL, no clock service; the test is the backend. */
async function bareWorld(): Promise<World> {
  const aedes = await Aedes.createBroker();
  const server = net.createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const backend = await connectOnce(url, { clientId: 'test-backend-time' });
  return {
    url,
    keys: generateKeyPairSync('ed25519'),
    backend,
    acks: listenForAcks(backend),
    credentials: () => undefined,
    close: async () => {
      await endClient(backend);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function speaker(w: World, id: string, clock: Clock, nvs = createMemoryNvs()) {
  const log = captureLog();
  const board = createHeadlessBoard({ clock, nvs });
  const s = new Speaker({
    id,
    brokerUrl: w.url,
    lang: 'zh-CN',
    board,
    voice,
    settings,
    log: log.log,
    trust: new Trust({ publicKey: nodeVerifyingKey(w.keys.publicKey) }),
    mqtt: w.credentials(id) ?? {},
  });
  return { speaker: s, board, lines: log.lines };
}

const signedPayment = (w: World, device: string, id: string) =>
  JSON.stringify(
    signNotification(
      makeNotification({
        id,
        device,
        amount: 1234,
        currency: 'CNY',
        channel: 'wechat',
        kind: 'payment',
        createdAt: Date.now(),
      }),
      w.keys.privateKey,
    ),
  );

const said = (lines: LogLine[], text: RegExp) => lines.some((l) => text.test(l.msg));

describe('a speaker that boots in 1970, on a broker with the clock service', () => {
  let w: World;
  let stopClock: () => void;
  beforeAll(async () => {
    w = await secureWorld();
    stopClock = startClockService(w.broker!.aedes, { sign: (a) => signTimeAnswer(a, w.keys.privateKey) });
  }, 30_000);
  afterAll(async () => {
    stopClock();
    await w.close();
  });

  it('sets its clock from the broker and says so, then announces a signed payment', async () => {
    await w.backend.subscribeAsync(topics.ack('SPK-1970'), { qos: 1 });
    const clock = createSystemClock({ startAt: 0 });
    expect(clockTrusted(clock)).toBe(false);
    const { speaker: s, board, lines } = speaker(w, 'SPK-1970', clock);
    await s.start();
    await until(() => clock.synced?.() === true, 'the clock set from the broker');
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(1000);
    expect(clockTrusted(clock)).toBe(true);
    const line = lines.find((l) => l.msg.startsWith('clock set from the broker'));
    expect(line?.msg).toMatch(
      /^clock set from the broker: was 1970-01-01T00:00:\d\d\.\d{3}Z, now 20\d\d-.+Z, off by \d+\.\d days \(behind\)$/,
    );

    await w.backend.publishAsync(topics.notify('SPK-1970'), signedPayment(w, 'SPK-1970', 'PAY-1970-A'), { qos: 1 });
    await until(() => w.acks.some((a) => a.id === 'PAY-1970-A'), 'the ack');
    expect(w.acks.find((a) => a.id === 'PAY-1970-A')).toMatchObject({ status: 'played', text: '微信收款十二点三四元' });
    expect(board.audio.played).toHaveLength(1);
    await s.stop();
  });

  it('holds a payment that reached it before its clock was set, and announces it once the clock is', async () => {
    const id = 'SPK-1970-Q';
    const { password } = w.credentials(id)!;
    await w.backend.subscribeAsync(topics.ack(id), { qos: 1 });
    // The device's persistent session exists (it was here before) and it is away: the payment is queued.
    const first = await connectDevice(w.url, id, password);
    await first.client!.subscribeAsync(topics.notify(id), { qos: 1 });
    await end(first.client);
    await w.backend.publishAsync(topics.notify(id), signedPayment(w, id, 'PAY-1970-Q'), { qos: 1 });

    const clock = createSystemClock({ startAt: 0 });
    const { speaker: s, board, lines } = speaker(w, id, clock);
    await s.start();
    await until(() => w.acks.some((a) => a.id === 'PAY-1970-Q'), 'the ack');
    // Delivered at connect, before the device could even ask the time: held, not refused.
    expect(said(lines, /^holding payment PAY-1970-Q until the clock is set from the broker/)).toBe(true);
    expect(w.acks.filter((a) => a.id === 'PAY-1970-Q').map((a) => a.status)).toEqual(['played']);
    expect(board.audio.played).toHaveLength(1);
    expect(board.nvs.keys('payments.held.')).toEqual([]);
    expect(board.nvs.keys('payments.inbox.')).toEqual([]);
    await s.stop();
  });
});

describe('answers a speaker must not take', () => {
  let w: World;
  beforeAll(async () => (w = await bareWorld()), 30_000);
  afterAll(() => w.close());

  it('ignores a wrong nonce, a bad signature, another device’s answer and a replay; takes the genuine one', async () => {
    const id = 'SPK-1970-X';
    // No clock service on this broker: the test answers by hand, as the backend could.
    const requests: string[] = [];
    w.backend.on('message', (topic, payload) => {
      if (topic !== topics.timeRequest(id)) return;
      const r = parseTimeRequest(payload);
      if (r.ok) requests.push(r.value.nonce);
    });
    await w.backend.subscribeAsync(topics.timeRequest(id), { qos: 0 });
    const clock = createSystemClock({ startAt: 0 });
    const { speaker: s, lines } = speaker(w, id, clock);
    await s.start();
    await until(() => requests.length === 1, 'a time request');
    const nonce = requests[0]!;
    const FUTURE = Date.UTC(2099, 0, 1);
    const answer = (fields: Partial<TimeAnswer>, key = w.keys.privateKey): string =>
      encodeTimeAnswer(signTimeAnswer({ v: 1, device: id, nonce, now: FUTURE, ...fields }, key));
    const ignored = async (payload: string, why: RegExp) => {
      const before = lines.length;
      await w.backend.publishAsync(topics.time(id), payload, { qos: 0 });
      await until(() => lines.slice(before).some((l) => why.test(l.msg)), `the speaker to ignore it (${why})`);
    };
    const send = async (payload: string, why: RegExp) => {
      await ignored(payload, why);
      expect(clock.synced?.()).toBe(false);
      expect(clock.now()).toBeLessThan(CLOCK_FLOOR_MS);
    };

    await send(answer({ nonce: 'f'.repeat(32) }), /^ignored a time answer: its nonce is not the one/);
    await send(answer({}, generateKeyPairSync('ed25519').privateKey), /^ignored a time answer: bad signature/);
    await send(
      encodeTimeAnswer({ v: 1, device: id, nonce, now: FUTURE }),
      /^ignored a time answer: bad signature: no signature/,
    );
    await send(answer({ device: 'SPK-OTHER' }), /^ignored a time answer: wrong-device/);

    const genuine = answer({ now: Date.now() });
    await w.backend.publishAsync(topics.time(id), genuine, { qos: 0 });
    await until(() => clock.synced?.() === true, 'the clock set');
    const setTo = clock.now();
    expect(Math.abs(setTo - Date.now())).toBeLessThan(1000);
    // The same answer again (captured, replayed): its nonce is spent.
    await ignored(answer({}), /^ignored a time answer: its nonce is not the one/);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(1000);
    await s.stop();
  });

  it('keeps a held payment across a reboot, and announces it once the rebooted speaker’s clock is set', async () => {
    const id = 'SPK-1970-R';
    await w.backend.subscribeAsync(topics.ack(id), { qos: 1 });
    const requests: string[] = [];
    w.backend.on('message', (topic, payload) => {
      const r = topic === topics.timeRequest(id) ? parseTimeRequest(payload) : null;
      if (r?.ok) requests.push(r.value.nonce);
    });
    await w.backend.subscribeAsync(topics.timeRequest(id), { qos: 0 });
    const first = speaker(w, id, createSystemClock({ startAt: 0 }));
    await first.speaker.start();
    await w.backend.publishAsync(topics.notify(id), signedPayment(w, id, 'PAY-1970-R'), { qos: 1 });
    await until(() => said(first.lines, /^holding payment PAY-1970-R/), 'the payment held');
    await first.speaker.stop();
    expect(w.acks.filter((a) => a.id === 'PAY-1970-R')).toEqual([]);
    expect(first.board.nvs.keys('payments.held.')).toEqual(['payments.held.PAY-1970-R']);

    // Power cut: the real-time clock is lost again; NVS is not.
    const nvs = createMemoryNvs(Object.fromEntries(first.board.nvs.keys().map((k) => [k, first.board.nvs.get(k)])));
    const clock = createSystemClock({ startAt: 0 });
    const { speaker: again, board } = speaker(w, id, clock, nvs);
    const asked = requests.length;
    await again.start();
    await until(() => requests.length > asked, 'a time request from the rebooted speaker');
    expect(board.audio.played).toHaveLength(0); // still held: the clock reads 1970
    const nonce = requests.at(-1)!;
    await w.backend.publishAsync(
      topics.time(id),
      encodeTimeAnswer(signTimeAnswer({ v: 1, device: id, nonce, now: Date.now() }, w.keys.privateKey)),
      { qos: 0 },
    );
    await until(() => w.acks.some((a) => a.id === 'PAY-1970-R'), 'the ack');
    expect(w.acks.filter((a) => a.id === 'PAY-1970-R').map((a) => a.status)).toEqual(['played']);
    expect(board.audio.played).toHaveLength(1);
    expect(nvs.keys('payments.held.')).toEqual([]);
    await again.stop();
  });
});

describe('an --insecure speaker on an insecure broker', () => {
  it('takes the unsigned time of a broker without a key', async () => {
    const broker = await startTestBroker();
    const stopClock = startClockService(broker.aedes);
    const clock = createSystemClock({ startAt: 0 });
    const s = new Speaker({
      id: 'SPK-1970-I',
      brokerUrl: broker.mqttUrl,
      lang: 'zh-CN',
      board: createHeadlessBoard({ clock }),
      voice,
      settings,
    });
    try {
      await s.start();
      await until(() => clock.synced?.() === true, 'the clock set');
      expect(Math.abs(clock.now() - Date.now())).toBeLessThan(1000);
    } finally {
      await s.stop();
      stopClock();
      await broker.close();
    }
  });
});

/**
 * The speaker firmware in-process on the headless board, against a real broker: order,
 * no overlap, dedupe, retained state and last will.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess } from '../support/cli.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import {
  makeNotification,
  parseAck,
  topics,
  type Ack,
  type CommandResult,
  type UnsignedCommand,
} from '../../src/protocol/index.ts';
import { signCommand, signNotification, nodeVerifyingKey } from '../../src/protocol/signing-node.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { CommandGuard, Trust } from '../../device/trust.ts';
import { DeviceLink } from '../support/mqtt.ts';
import type { AudioOut } from '../../device/board.ts';
import type { RunningBroker } from '../../broker/broker.ts';

let broker: RunningBroker;
let backend: MqttClient;
const voice = createTtsVoice(createEspeakEngine());
/** Status prompts off: these tests count payment announcements. */
const settings = { prompts: false };

beforeAll(async () => {
  broker = await startTestBroker();
  backend = await connectOnce(broker.mqttUrl, { clientId: 'test-backend-speaker' });
});
afterAll(async () => {
  await endClient(backend);
  await broker.close();
});

/** Records when each playback starts and ends on a real memory sink, to prove no overlap. */
function recording(audio: AudioOut) {
  const spans: { label: string; start: number; end: number }[] = [];
  const out: AudioOut = {
    name: audio.name,
    async play(pcm, label) {
      const start = performance.now();
      const result = await audio.play(pcm, label);
      await new Promise((r) => setTimeout(r, 20)); // playback takes time on a real box
      spans.push({ label, start, end: performance.now() });
      return result;
    },
    close: () => audio.close(),
  };
  return { out, spans };
}

function collectAcks(deviceId: string): Promise<Ack[]> {
  const acks: Ack[] = [];
  backend.on('message', (topic, payload) => {
    if (topic === topics.ack(deviceId)) acks.push(parseAck(payload));
  });
  return backend.subscribeAsync(topics.ack(deviceId), { qos: 1 }).then(() => acks);
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const payment = (device: string, id: string, amount: number) =>
  JSON.stringify(
    makeNotification({
      id,
      device,
      amount,
      currency: 'CNY',
      channel: 'wechat',
      kind: 'payment',
      createdAt: Date.now(),
    }),
  );

describe('Speaker', () => {
  it('announces a burst one at a time, in arrival order, and acks each', async () => {
    const board = createHeadlessBoard();
    const { out, spans } = recording(board.audio);
    const speaker = new Speaker({
      id: 'SPK-ORDER',
      brokerUrl: broker.mqttUrl,
      lang: 'zh-CN',
      board: { ...board, audio: out },
      voice,
      settings,
    });
    const acks = await collectAcks('SPK-ORDER');
    await speaker.start();
    const ids = ['P-1', 'P-2', 'P-3', 'P-4', 'P-5'];
    await Promise.all(
      ids.map((id, i) =>
        backend.publishAsync(topics.notify('SPK-ORDER'), payment('SPK-ORDER', id, (i + 1) * 100), { qos: 1 }),
      ),
    );
    await until(() => acks.length === ids.length, 'five acks');

    expect(spans.map((s) => s.label)).toEqual(ids);
    for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
    expect(acks.map((a) => [a.id, a.status])).toEqual(ids.map((id) => [id, 'played']));
    expect(acks.map((a) => a.text)).toEqual([
      '微信收款一元',
      '微信收款二元',
      '微信收款三元',
      '微信收款四元',
      '微信收款五元',
    ]);
    expect(board.audio.played).toHaveLength(5);
    await speaker.stop();
  });

  it('acks a redelivered id as duplicate without playing it again', async () => {
    const board = createHeadlessBoard();
    const speaker = new Speaker({ id: 'SPK-DUP', brokerUrl: broker.mqttUrl, lang: 'en-US', board, voice, settings });
    const acks = await collectAcks('SPK-DUP');
    await speaker.start();
    for (let i = 0; i < 3; i++)
      await backend.publishAsync(topics.notify('SPK-DUP'), payment('SPK-DUP', 'SAME-ID', 250), { qos: 1 });
    await until(() => acks.length === 3, 'three acks');
    expect(acks.map((a) => a.status).sort()).toEqual(['duplicate', 'duplicate', 'played']);
    expect(board.audio.played).toHaveLength(1);
    await speaker.stop();
  });

  it('publishes a retained online state, and offline when it stops', async () => {
    const speaker = new Speaker({
      id: 'SPK-STATE',
      brokerUrl: broker.mqttUrl,
      lang: 'zh-CN',
      board: createHeadlessBoard(),
      voice,
      settings,
    });
    await speaker.start();
    const observer = await connectOnce(broker.mqttUrl, { clientId: 'test-state-observer' });
    const states: Record<string, unknown>[] = [];
    observer.on('message', (_t, p) => states.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await observer.subscribeAsync(topics.state('SPK-STATE'), { qos: 1 });
    await until(() => states.length === 1, 'the retained state');
    expect(states[0]).toMatchObject({
      v: 1,
      device: 'SPK-STATE',
      online: true,
      lang: 'zh-CN',
      firmware: expect.any(String),
    });
    await speaker.stop();
    await until(() => states.length === 2, 'the offline state');
    expect(states[1]).toMatchObject({ online: false });
    await endClient(observer);
  });

  it('is marked offline by its last will when the device process is killed', async () => {
    const device = new CliProcess([
      'device',
      '--insecure',
      '--id',
      'SPK-WILL',
      '--broker',
      broker.mqttUrl,
      '--audio',
      'none',
      '--json',
    ]);
    await device.waitForEvent((e) => e.event === 'online');
    const observer = await connectOnce(broker.mqttUrl, { clientId: 'test-will-observer' });
    const states: Record<string, unknown>[] = [];
    observer.on('message', (_t, p) => states.push(JSON.parse(p.toString()) as Record<string, unknown>));
    await observer.subscribeAsync(topics.state('SPK-WILL'), { qos: 1 });
    // The retained copy and the live publish may both arrive if the SUBSCRIBE crosses the
    // device's publish (MQTT 3.1.1 allows it): wait for the state, not for a count of messages.
    await until(() => states.length > 0, 'the retained online state');
    expect(states.every((st) => st.online === true)).toBe(true);
    device.child.kill('SIGKILL');
    await until(() => states.some((st) => st.online === false), 'the last will');
    expect(states.at(-1)).toMatchObject({ device: 'SPK-WILL', online: false });
    expect(broker.tracker.device('SPK-WILL')?.online).toBe(false);
    await endClient(observer);
  });
});

describe('signed commands', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');

  async function secureSpeaker(id: string, nvs = createMemoryNvs()) {
    const board = createHeadlessBoard({ nvs });
    const link = await DeviceLink.open(broker.mqttUrl, id);
    const speaker = new Speaker({
      id,
      brokerUrl: broker.mqttUrl,
      lang: 'zh-CN',
      board,
      voice,
      settings,
      trust: new Trust({ publicKey: nodeVerifyingKey(publicKey) }),
    });
    await speaker.start();
    return { speaker, board, link, nvs };
  }

  /** Publishes a payload as is on the device's cmd topic and resolves with the result of `id`. */
  async function send(link: DeviceLink, payload: unknown, id: string, nth = 1): Promise<CommandResult> {
    await link.client.publishAsync(topics.command(link.device), JSON.stringify(payload), { qos: 1 });
    await until(() => link.results.filter((r) => r.id === id).length >= nth, `result ${nth} of ${id}`);
    return link.results.filter((r) => r.id === id)[nth - 1]!;
  }

  const signed = (device: string, fields: Partial<UnsignedCommand> & Pick<UnsignedCommand, 'id'>, key = privateKey) =>
    signCommand({ v: 1, command: 'replay', device, createdAt: Date.now(), ...fields } as UnsignedCommand, key);

  it('refuses unsigned, forged, stale and replayed commands with a clear error, and never acts on them', async () => {
    const { speaker, board, link } = await secureSpeaker('SPK-SIGNED');
    const said = () => board.audio.played.length;

    // The attack of the issue: the backend's MQTT password, no key.
    const unsigned = await send(link, { v: 1, id: 'C-UNSIGNED', command: 'replay' }, 'C-UNSIGNED');
    expect(unsigned).toMatchObject({ ok: false, command: 'replay', reason: 'bad-signature' });
    expect(unsigned.error).toMatch(
      /^refused, not run \(bad-signature\): the command is not signed \("sig" is missing\): this speaker runs only commands signed with the backend key/,
    );
    const mute = await send(link, { v: 1, id: 'C-MUTE', command: 'set-volume', value: 0 }, 'C-MUTE');
    expect(mute).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(mute.volume).toBeUndefined();

    const forged = await send(
      link,
      signed('SPK-SIGNED', { id: 'C-FORGED', command: 'set-volume', value: 0 }, other.privateKey),
      'C-FORGED',
    );
    expect(forged).toMatchObject({
      ok: false,
      reason: 'bad-signature',
      error:
        'refused, not run (bad-signature): signature does not match: the command was altered or signed by another key',
    });
    const altered = { ...signed('SPK-SIGNED', { id: 'C-ALTERED', command: 'set-volume', value: 5 }), value: 0 };
    expect(await send(link, altered, 'C-ALTERED')).toMatchObject({ ok: false, reason: 'bad-signature' });

    const stale = await send(
      link,
      signed('SPK-SIGNED', { id: 'C-STALE', createdAt: Date.now() - 11 * 60_000 }),
      'C-STALE',
    );
    expect(stale).toMatchObject({ ok: false, reason: 'expired' });
    expect(stale.error).toMatch(
      /^refused, not run \(expired\): command was created 11m ago .*a speaker accepts commands at most 10m old: send it again \(a new id, the current time\)$/,
    );
    const future = await send(
      link,
      signed('SPK-SIGNED', { id: 'C-FUTURE', createdAt: Date.now() + 6 * 60_000 }),
      'C-FUTURE',
    );
    expect(future).toMatchObject({ ok: false, reason: 'from-the-future' });

    const forOther = await send(link, signed('SPK-ELSEWHERE', { id: 'C-OTHER' }), 'C-OTHER');
    expect(forOther).toMatchObject({
      ok: false,
      error: '"device" is "SPK-ELSEWHERE": this command is for another speaker (this is SPK-SIGNED)',
    });

    expect(said()).toBe(0);
    await until(() => link.states.some((s) => s.online === true), 'the state');
    expect(link.states.at(-1)).toMatchObject({ volume: 7 });

    // A genuine one runs once; the same bytes again are a replay.
    const genuine = signed('SPK-SIGNED', { id: 'C-GENUINE', command: 'set-volume', value: 3 });
    expect(await send(link, genuine, 'C-GENUINE')).toMatchObject({ ok: true, volume: 3 });
    const again = await send(link, genuine, 'C-GENUINE', 2);
    expect(again).toMatchObject({ ok: false, reason: 'duplicate' });
    expect(again.error).toMatch(
      /^refused, not run \(duplicate\): command C-GENUINE was already run .*this is a replay; send a new command with a new id$/,
    );
    await speaker.stop();
  });

  it('runs a signed replay, which opens with 重复播报 so it never sounds like a new payment', async () => {
    const { speaker, board, link } = await secureSpeaker('SPK-REPLAY');
    const signedLink = await DeviceLink.open(broker.mqttUrl, 'SPK-REPLAY', { privateKey });
    await backend.publishAsync(
      topics.notify('SPK-REPLAY'),
      JSON.stringify(
        signNotification(
          {
            v: 1,
            id: 'PAY-REPLAY-1',
            device: 'SPK-REPLAY',
            amount: 100,
            currency: 'CNY',
            channel: 'wechat',
            kind: 'payment',
            createdAt: Date.now(),
          },
          privateKey,
        ),
      ),
      { qos: 1 },
    );
    await until(() => board.audio.played.length === 1, 'the payment');
    const replay = await signedLink.command('replay');
    expect(replay).toMatchObject({ ok: true, command: 'replay', text: '重复播报，微信收款一元' });
    expect(board.audio.played).toHaveLength(2);
    await signedLink.close();
    await link.close();
    await speaker.stop();
  });

  it('remembers the ids it ran across a reboot (NVS), so a captured command cannot be replayed after one', async () => {
    const first = await secureSpeaker('SPK-REBOOT');
    const genuine = signed('SPK-REBOOT', { id: 'C-REBOOT', command: 'set-volume', value: 2 });
    expect(await send(first.link, genuine, 'C-REBOOT')).toMatchObject({ ok: true, volume: 2 });
    const stored = Object.fromEntries(first.nvs.keys().map((k) => [k, first.nvs.get(k)]));
    await first.speaker.stop();

    const again = await secureSpeaker('SPK-REBOOT', createMemoryNvs(stored));
    expect(await send(again.link, genuine, 'C-REBOOT')).toMatchObject({ ok: false, reason: 'duplicate' });
    await again.link.close();
    await first.link.close();
    await again.speaker.stop();
  });

  it('keeps a bounded memory: an id it had to forget is still refused by its age', async () => {
    const nvs = createMemoryNvs();
    const guard = new CommandGuard(new Trust({ publicKey: nodeVerifyingKey(publicKey) }), nvs, {
      deviceId: 'SPK-1',
      remember: 3,
    });
    const now = Date.now();
    const commands = [1, 2, 3, 4, 5].map((i) => signed('SPK-1', { id: `C-${i}`, createdAt: now - 60_000 + i }));
    for (const c of commands) expect(await guard.admit(c, now)).toEqual({ ok: true });
    expect(nvs.keys('commands.seen.')).toHaveLength(3);
    // C-1 and C-2 were forgotten; they are no newer than the newest forgotten one, so still refused.
    expect(await guard.admit(commands[0]!, now)).toMatchObject({ ok: false, reason: 'duplicate' });
    expect(await guard.admit(commands[1]!, now)).toMatchObject({ ok: false, reason: 'duplicate' });
    expect(await guard.admit(commands[4]!, now)).toMatchObject({ ok: false, reason: 'duplicate' });
    expect(await guard.admit(signed('SPK-1', { id: 'C-6', createdAt: now }), now)).toEqual({ ok: true });
  });

  it('an --insecure speaker (no backend key) still runs unsigned commands', async () => {
    const board = createHeadlessBoard();
    const speaker = new Speaker({ id: 'SPK-OPEN', brokerUrl: broker.mqttUrl, lang: 'zh-CN', board, voice, settings });
    const link = await DeviceLink.open(broker.mqttUrl, 'SPK-OPEN');
    await speaker.start();
    expect(await link.command('set-volume', { value: 4 })).toMatchObject({ ok: true, volume: 4 });
    expect(await link.command('replay')).toMatchObject({ ok: true, text: '暂无收款记录' });
    await link.close();
    await speaker.stop();
  });
});

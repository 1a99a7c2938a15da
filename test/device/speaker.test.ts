/**
 * The speaker firmware in-process on the headless board, against a real broker: order,
 * no overlap, dedupe, retained state and last will.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess } from '../support/cli.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { makeNotification, parseAck, topics, type Ack } from '../../src/protocol/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
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
    await until(() => states.length === 1, 'the retained online state');
    expect(states[0]).toMatchObject({ online: true });
    device.child.kill('SIGKILL');
    await until(() => states.length === 2, 'the last will');
    expect(states[1]).toMatchObject({ device: 'SPK-WILL', online: false });
    expect(broker.tracker.device('SPK-WILL')?.online).toBe(false);
    await endClient(observer);
  });
});

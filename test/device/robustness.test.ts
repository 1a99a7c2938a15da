/**
 * Exactly-once at the edges, each found by review and reproduced first: acks made while the
 * broker is away, a failed flash write, a clean stop with payments still arriving, a retry of
 * a payment that is still queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { createTtsVoice, type Voice } from '../../src/voice/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { StagedNvs } from '../../device/drivers/nvs.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { Speaker, type SpeakerOptions } from '../../device/speaker.ts';

const voice: Voice = createTtsVoice(createEspeakEngine());
let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null });
});
afterAll(() => broker.close());

function speaker(id: string, extra: Partial<SpeakerOptions> = {}, playbackSpeed = 0): Speaker {
  const board = extra.board ?? createHeadlessBoard({ playbackSpeed });
  return new Speaker({
    id,
    brokerUrl: broker.mqttUrl,
    lang: 'zh-CN',
    voice,
    settings: { prompts: false },
    backoff: { baseMs: 50, capMs: 100 },
    ...extra,
    board,
  });
}

describe('exactly once at the edges', () => {
  it('delivers the ack of a payment that finished playing while the broker was away', async () => {
    const own = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null });
    const port = Number(new URL(own.mqttUrl).port);
    const s = new Speaker({
      id: 'SPK-AWAY',
      brokerUrl: own.mqttUrl,
      lang: 'zh-CN',
      voice,
      board: createHeadlessBoard({ playbackSpeed: 4 }), // a ~3 s announcement takes ~0.8 s
      settings: { prompts: false },
      backoff: { baseMs: 50, capMs: 100 },
    });
    const announced = new Promise((resolve) => s.on('event', (e) => e.event === 'announced' && resolve(e)));
    await s.start();
    const link = await DeviceLink.open(own.mqttUrl, 'SPK-AWAY');
    const id = await link.pay(12_345);
    await link.close();
    await new Promise((r) => setTimeout(r, 150)); // playing now
    await own.close();
    await announced; // finished while the broker is away: its ack waits in the device's store
    const back = await startBroker({ host: '127.0.0.1', port, wsPort: null });
    const watcher = await DeviceLink.open(back.mqttUrl, 'SPK-AWAY');
    await until(() => watcher.ackFor(id)?.status === 'played', 'the ack queued while offline');
    await s.stop(); // and stop() does not hang on the kept store
    await watcher.close();
    await back.close();
  });

  it('does not PUBACK a payment it failed to store, and plays it when the broker redelivers', async () => {
    let failNext = false;
    const flaky = new StagedNvs('flaky flash', async () => {
      if (failNext) {
        failNext = false;
        throw new Error('ENOSPC: no space left on device');
      }
    });
    const board = createHeadlessBoard({ nvs: flaky });
    const s = speaker('SPK-FLASH', { board });
    await s.start();
    const link = await DeviceLink.open(broker.mqttUrl, 'SPK-FLASH');
    failNext = true;
    const id = await link.pay(500);
    await until(() => link.ackFor(id) !== undefined, 'an ack after the redelivery');
    expect(link.acks.map((a) => a.status)).toEqual(['played']);
    expect(board.audio.played).toHaveLength(1);
    await s.stop();
    await link.close();
  });

  it('leaves payments that arrive during a clean stop with the broker, for the next boot', async () => {
    const nvs = createMemoryNvs();
    const link = await DeviceLink.open(broker.mqttUrl, 'SPK-STOPPING');
    const first = speaker('SPK-STOPPING', { board: createHeadlessBoard({ nvs, playbackSpeed: 4 }) });
    await first.start();
    const a = await link.pay(100);
    await new Promise((r) => setTimeout(r, 150));
    const stopping = first.stop();
    const b = await link.pay(200);
    await stopping;
    expect(link.ackFor(a)?.status).toBe('played');
    expect(link.ackFor(b)).toBeUndefined();
    const board = createHeadlessBoard();
    const second = speaker('SPK-STOPPING', { board });
    await second.start();
    await until(() => link.ackFor(b)?.status === 'played', 'the second payment, played by the next boot');
    expect(board.audio.played).toHaveLength(1);
    await second.stop();
    await link.close();
  });

  it('answers a retry of a still-queued payment with the one final ack, not an early duplicate', async () => {
    const board = createHeadlessBoard({ playbackSpeed: 4 });
    const s = speaker('SPK-RETRY', { board });
    await s.start();
    const link = await DeviceLink.open(broker.mqttUrl, 'SPK-RETRY');
    const busy = await link.pay(100);
    const id = await link.pay(200);
    await link.pay(200, { id }); // the backend retries while the first two are still in line
    await until(() => link.ackFor(id) !== undefined && link.ackFor(busy) !== undefined, 'both acks');
    await s.idle();
    expect(link.acks.filter((a) => a.id === id).map((a) => a.status)).toEqual(['played']);
    expect(board.audio.played).toHaveLength(2);
    await s.stop();
    await link.close();
  });
});

/**
 * Dead links detected sooner (issue 14, item 10): a speaker whose link is black-holed (the fault
 * proxy holds every byte both ways, no RST, no FIN) must show offline on the broker — its last
 * will flips the retained state — and leave 'online' in its own state machine within 1.5× the
 * keep-alive: 30 s with the default 20 s, not the ~3 minutes of the old 120 s. Real broker,
 * real sockets, real MQTT.js keep-alive; nothing is faked, so the default case takes ~30 s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Speaker } from '../../device/speaker.ts';
import { DEFAULT_SETTINGS } from '../../device/context.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { startFaultProxy } from '../../tools/chaos/proxy.ts';
import { startTestBroker } from '../support/broker.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { captureLog } from '../fixtures/capture-log.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** Scheduling slack on a busy CI machine: timers, the will's delivery, the state machine. */
const MARGIN_MS = 3000;

async function speakerBehindProxy(id: string, settings: { keepaliveMs?: number } = {}) {
  const broker = await startTestBroker();
  cleanup.push(() => broker.close());
  const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: Number(new URL(broker.mqttUrl).port) } });
  cleanup.push(() => proxy.close());
  const { log, lines } = captureLog();
  const speaker = new Speaker({
    id,
    brokerUrl: proxy.mqttUrl,
    lang: 'zh-CN',
    board: createHeadlessBoard(),
    voice: createTtsVoice(createEspeakEngine()),
    settings: { prompts: false, ...settings },
    backoff: { baseMs: 100, capMs: 300 },
    log,
  });
  cleanup.push(() => speaker.stop());
  // The backend watches the state topic straight on the broker, not through the proxy.
  const backend = await DeviceLink.open(broker.mqttUrl, id);
  cleanup.push(() => backend.close());
  await speaker.boot();
  await until(() => speaker.state === 'online', 'the speaker online');
  await until(() => backend.states.at(-1)?.online === true, 'the retained state online');
  return { broker, proxy, speaker, backend, lines };
}

/** Black-holes the link now; resolves with when the broker and the device each gave it up. */
async function blackholeAndTime(
  rig: Awaited<ReturnType<typeof speakerBehindProxy>>,
  boundMs: number,
): Promise<{ brokerMs: number; deviceMs: number }> {
  const { proxy, speaker, backend } = rig;
  const start = Date.now();
  let brokerMs = -1;
  let deviceMs = -1;
  // Bounded (then healed by hand) rather than open-ended: the proxy answers a side that closes
  // during an open-ended black hole with an RST, which would tell the device what only its
  // keep-alive should find out.
  proxy.blackhole(10 * 60_000);
  await until(
    () => {
      if (brokerMs < 0 && backend.states.at(-1)?.online === false) brokerMs = Date.now() - start;
      if (deviceMs < 0 && speaker.state !== 'online') deviceMs = Date.now() - start;
      return brokerMs >= 0 && deviceMs >= 0;
    },
    `the broker and the device to give up the black-holed link within ${boundMs} ms`,
    boundMs,
  );
  return { brokerMs, deviceMs };
}

describe('a black-holed link', () => {
  it(
    'shows offline on the broker (last will) and on the device within 30 s with the default keep-alive, then recovers',
    { timeout: 60_000 },
    async () => {
      expect(DEFAULT_SETTINGS.keepaliveMs).toBe(20_000);
      const rig = await speakerBehindProxy('SPK-LIVE-1');
      const bound = DEFAULT_SETTINGS.keepaliveMs * 1.5 + MARGIN_MS;
      const { brokerMs, deviceMs } = await blackholeAndTime(rig, bound);
      expect(brokerMs).toBeLessThanOrEqual(bound);
      expect(deviceMs).toBeLessThanOrEqual(bound);
      // The device says why, in words.
      expect(rig.lines.map((l) => l.msg)).toContain(
        'no answer from the broker for 30 s (keep-alive 20 s): the link is dead, reconnecting',
      );
      // Once the path heals, the reconnect (held in the black hole until then) goes through.
      rig.proxy.heal();
      await until(() => rig.speaker.state === 'online', 'the speaker online again', 20_000);
      await until(() => rig.backend.states.at(-1)?.online === true, 'the retained state online again', 5000);
    },
  );

  it('follows the keepaliveMs setting: 2 s → gone within 3 s', { timeout: 30_000 }, async () => {
    const rig = await speakerBehindProxy('SPK-LIVE-2', { keepaliveMs: 2000 });
    const bound = 3000 + MARGIN_MS;
    const { brokerMs, deviceMs } = await blackholeAndTime(rig, bound);
    expect(brokerMs).toBeLessThanOrEqual(bound);
    expect(deviceMs).toBeLessThanOrEqual(bound);
    // Not before the keep-alive could have noticed: it is the keep-alive that did.
    expect(Math.min(brokerMs, deviceMs)).toBeGreaterThanOrEqual(1500);
  });
});

/**
 * A speaker on a link that keeps falling (the fault proxy adds 15 ms each way and resets it every 400 ms) still acks
 * every payment. MQTT.js fails, rather than keeps, a QoS 1 publish made while it resends its
 * store after a reconnect if the link drops again meanwhile (MQTT.js issue #2015): without
 * the device's own resend (device/connection.ts) acks were lost here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { startFaultProxy, type FaultProxy } from '../../tools/chaos/proxy.ts';
import { startTestBroker } from '../support/broker.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import type { RunningBroker } from '../../broker/broker.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('a flapping link', () => {
  it('loses no ack when a slow connection is reset every 400 ms while payments are announced', async () => {
    const broker: RunningBroker = await startTestBroker();
    cleanup.push(() => broker.close());
    const port = Number(new URL(broker.mqttUrl).port);
    // Latency makes MQTT.js's store resend (one packet per round trip) slow enough to be cut short.
    const proxy: FaultProxy = await startFaultProxy({ target: { host: '127.0.0.1', port }, latency: { delayMs: 15 } });
    cleanup.push(() => proxy.close());
    const speaker = new Speaker({
      id: 'SPK-FLAP',
      brokerUrl: proxy.mqttUrl,
      lang: 'zh-CN',
      board: createHeadlessBoard(),
      voice: createTtsVoice(createEspeakEngine()),
      settings: { prompts: false, burstDepth: 10_000 },
      backoff: { baseMs: 20, capMs: 50 },
    });
    cleanup.push(() => speaker.stop());
    await speaker.boot();
    await until(() => speaker.state === 'online', 'the speaker online');
    const backend = await DeviceLink.open(broker.mqttUrl, 'SPK-FLAP');
    cleanup.push(() => backend.close());

    const flapping = setInterval(() => proxy.resetAll(), 400);
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      ids.push(await backend.pay(100 + i));
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(flapping);
    await until(() => ids.every((id) => backend.ackFor(id)), 'an ack for every payment', 30_000);
    expect(proxy.stats().faults.reset).toBeGreaterThan(5);
    expect(ids.filter((id) => !['played', 'duplicate'].includes(backend.ackFor(id)!.status))).toEqual([]);
  }, 60_000);
});

/**
 * A speaker told to stop just as its broker goes away (a laptop shutting down, `docker compose
 * down`) still stops: its goodbye on the state topic and MQTT.js's polite end both wait for
 * PUBACKs nobody will send, so each gets a short deadline. Before, this hung for ever.
 */
import { describe, expect, it } from 'vitest';
import { Speaker } from '../../device/speaker.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { startTestBroker } from '../support/broker.ts';
import { until } from '../support/mqtt.ts';

describe('stopping while the broker stops', () => {
  it('finishes, three times in a row', async () => {
    for (let i = 0; i < 3; i++) {
      const broker = await startTestBroker();
      const speaker = new Speaker({
        id: `SPK-STOP-${i}`,
        brokerUrl: broker.mqttUrl,
        lang: 'zh-CN',
        board: createHeadlessBoard(),
        voice: createTtsVoice(createEspeakEngine()),
        settings: { prompts: false },
      });
      await speaker.boot();
      await until(() => speaker.state === 'online', 'the speaker online');
      const stopped = await Promise.all([speaker.stop().then(() => 'stopped'), broker.close()]);
      expect(stopped[0]).toBe('stopped');
    }
  }, 30_000);
});

/** Full-sentence synthesis: what a box with cloud TTS does, and the fallback for missing clips. */
import type { TtsEngine } from '../audio/tts/engine.ts';
import { applyVolume, MAX_VOLUME } from '../audio/volume.ts';
import type { Voice } from './voice.ts';

export function createTtsVoice(engine: TtsEngine): Voice {
  return {
    name: engine.name,
    render: async (u, lang, volume = MAX_VOLUME) => applyVolume(await engine.synthesize(u.text, lang), volume),
  };
}

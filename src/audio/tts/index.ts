/** Text-to-speech engines by the name a user types (`--engine espeak`): one file per engine. */
import type { TtsEngine } from './engine.ts';
import { createEspeakEngine } from './espeak.ts';
import { createSayEngine } from './say.ts';

export type { TtsEngine, TtsLang } from './engine.ts';
export { createEspeakEngine } from './espeak.ts';
export { createSayEngine, sayUnsupported } from './say.ts';

const FACTORIES = {
  espeak: () => createEspeakEngine(),
  say: () => createSayEngine(),
} as const satisfies Record<string, () => TtsEngine>;

export type TtsEngineName = keyof typeof FACTORIES;
export const TTS_ENGINES: readonly TtsEngineName[] = Object.freeze(Object.keys(FACTORIES) as TtsEngineName[]);

export function createTtsEngine(name: TtsEngineName): TtsEngine {
  return FACTORIES[name]();
}

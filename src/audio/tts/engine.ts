import type { Pcm } from '../pcm.ts';
import type { Language } from '../../speech/index.ts';

/**
 * Languages an engine is asked to speak: exactly the ones src/speech can phrase, so adding a
 * language there makes every engine's voice table fail to compile until it has an entry.
 */
export type TtsLang = Language;

export interface TtsEngine {
  readonly name: string;
  /**
   * What besides the name changes the audio (package release, rate, pitch). Voice packs put it
   * in their version, so a pack recorded with other settings is rebuilt rather than mixed.
   */
  readonly version?: string;
  synthesize(text: string, lang: TtsLang): Promise<Pcm>;
}

import type { Pcm } from '../pcm.ts';

/** Languages the speakers announce in. Add a tag here and a voice in each engine's table. */
export type TtsLang = 'zh-CN' | 'en-US';

export interface TtsEngine {
  readonly name: string;
  synthesize(text: string, lang: TtsLang): Promise<Pcm>;
}

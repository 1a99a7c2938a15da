/**
 * Spoken announcements. A registry of languages, one file each under ./languages (the layout
 * MQTT.js uses for its transports): adding a language means adding a file and one line below.
 */
import type { Announcement, Clip, Message, SpeechLanguage, Utterance } from './types.ts';
import { enUS } from './languages/en-US.ts';
import { hiIN } from './languages/hi-IN.ts';
import { zhCN } from './languages/zh-CN.ts';

export type { Announcement, Clip, Message, Prompt, SpeechLanguage, Total, Utterance } from './types.ts';

const REGISTRY = {
  'zh-CN': zhCN,
  'en-US': enUS,
  'hi-IN': hiIN,
} as const satisfies Record<string, SpeechLanguage>;

export type Language = keyof typeof REGISTRY;

/** Every supported language; the first is the default a speaker ships with. */
export const LANGUAGES: readonly Language[] = Object.freeze(Object.keys(REGISTRY) as Language[]);

export function isLanguage(x: unknown): x is Language {
  return typeof x === 'string' && Object.hasOwn(REGISTRY, x);
}

/** What a speaker says for `message` in `lang`: the sentence and the voice-pack clips that make it up. */
export function utter(message: Message, lang: Language): Utterance {
  return REGISTRY[lang].say(message);
}

/**
 * Every clip `lang` can use, unique keys, stable order: what a voice pack must record.
 * Currency names taken from Intl for currencies outside the language's own table are not here
 * by design (an open set); a pack missing a clip falls back to synthesising the whole sentence.
 */
export function vocabulary(lang: Language): Clip[] {
  return REGISTRY[lang].vocabulary();
}

/** The full sentence a speaker says for `a` in `lang`, e.g. 微信收款一百二十三点四五元. */
export function phrase(a: Announcement, lang: Language): string {
  return utter({ type: 'payment', payment: a }, lang).text;
}

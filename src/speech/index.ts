/**
 * Spoken announcements. A registry of languages, one file each under ./languages (the layout
 * MQTT.js uses for its transports): adding a language means adding a file and one line below.
 */
import type { Announcement, SpeechLanguage } from './types.ts';
import { enUS } from './languages/en-US.ts';
import { zhCN } from './languages/zh-CN.ts';

export type { Announcement, SpeechLanguage } from './types.ts';

const REGISTRY = {
  'zh-CN': zhCN,
  'en-US': enUS,
} as const satisfies Record<string, SpeechLanguage>;

export type Language = keyof typeof REGISTRY;

/** Every supported language; the first is the default a speaker ships with. */
export const LANGUAGES: readonly Language[] = Object.freeze(Object.keys(REGISTRY) as Language[]);

export function isLanguage(x: unknown): x is Language {
  return typeof x === 'string' && Object.hasOwn(REGISTRY, x);
}

/** The full sentence a speaker says for `a` in `lang`, e.g. 微信收款一百二十三点四五元. */
export function phrase(a: Announcement, lang: Language): string {
  return REGISTRY[lang].phrase(a);
}

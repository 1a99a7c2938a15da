/**
 * The operating system's own voice through the `say` package: macOS `say`, Windows
 * System.Speech. Both can write a WAV (say.export), which we read back. On Linux say.js can only
 * play through festival, so we call festival's text2wave ourselves, and festival reads only
 * English: Chinese crashes it and it has no Hindi voice, so those are refused with a way out.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Pcm } from '../pcm.ts';
import type { TtsEngine, TtsLang } from './engine.ts';
import { text2wave, TEXT2WAVE } from './festival.ts';
import { decodeSpeechWav } from './wav-convert.ts';

export interface SayOptions {
  /** Which OS to behave as (injected by tests; default: this one). */
  platform?: NodeJS.Platform;
  /** Festival's text2wave command on Linux. */
  text2wave?: string;
  /** System voice names per language, overriding the table below. */
  voices?: Partial<Record<TtsLang, string>>;
}

/** Voices that ship with the OS (macOS) or its common language packs (Windows). */
const SYSTEM_VOICES: Partial<Record<NodeJS.Platform, Partial<Record<TtsLang, string>>>> = {
  darwin: { 'zh-CN': 'Tingting', 'en-US': 'Samantha', 'hi-IN': 'Lekha' },
  win32: { 'zh-CN': 'Microsoft Huihui Desktop', 'en-US': 'Microsoft Zira Desktop' },
};

const LANGUAGE_NAMES: Readonly<Record<TtsLang, string>> = { 'zh-CN': 'Chinese', 'en-US': 'English', 'hi-IN': 'Hindi' };

/** Why the say engine cannot speak `lang` on `platform`, or undefined when it can try. */
export function sayUnsupported(
  lang: TtsLang,
  platform: NodeJS.Platform,
  voices: SayOptions['voices'] = {},
): string | undefined {
  const name = LANGUAGE_NAMES[lang];
  if (platform === 'linux') {
    if (lang === 'en-US') return undefined;
    return `say: on Linux the say engine speaks through festival, which cannot read ${name}: use --voice-engine espeak or clips`;
  }
  if (platform !== 'darwin' && platform !== 'win32')
    return `say: no system voice on ${platform}: use --voice-engine espeak or clips`;
  if (!(voices[lang] ?? SYSTEM_VOICES[platform]?.[lang])) {
    return `say: no ${name} system voice is known on ${platform}: use --voice-engine espeak or clips`;
  }
  return undefined;
}

export function createSayEngine(opts: SayOptions = {}): TtsEngine {
  const platform = opts.platform ?? process.platform;
  const command = opts.text2wave ?? TEXT2WAVE;
  return {
    name: 'say',
    version: platform === 'linux' ? `linux ${command}` : platform,
    async synthesize(text: string, lang: TtsLang): Promise<Pcm> {
      const why = sayUnsupported(lang, platform, opts.voices);
      if (why) throw new Error(why);
      if (platform === 'linux') return text2wave(text, command);
      return exportWav(text, (opts.voices?.[lang] ?? SYSTEM_VOICES[platform]?.[lang])!);
    },
  };
}

/** say.export into a temp WAV, read back and converted (macOS writes 32-bit float). */
async function exportWav(text: string, voice: string): Promise<Pcm> {
  const { default: say } = await import('say');
  const file = path.join(os.tmpdir(), `payspeaker-say-${process.pid}-${randomUUID()}.wav`);
  try {
    await new Promise<void>((resolve, reject) => {
      // say.js types its callback's error as a string; at run time it is an Error or null.
      say.export(text, voice, undefined, file, (err: unknown) => (err ? reject(sayError(err, voice)) : resolve()));
    });
    return decodeSpeechWav(await readFile(file));
  } finally {
    await rm(file, { force: true });
  }
}

function sayError(err: unknown, voice: string): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return new Error(
    `say: the system voice "${voice}" failed: ${msg.trim()} (install that voice, or use --voice-engine espeak)`,
  );
}

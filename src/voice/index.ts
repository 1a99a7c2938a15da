/**
 * Voices for `--voice-engine`: `clips` joins a prerecorded voice pack (what real boxes do),
 * `espeak` and `say` synthesise every sentence. Adding one means a file and a line in FACTORIES.
 */
import { createEspeakEngine } from '../audio/tts/espeak.ts';
import { createSayEngine, sayUnsupported } from '../audio/tts/say.ts';
import type { TtsEngine } from '../audio/tts/engine.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Language } from '../speech/index.ts';
import { createClipVoice } from './clip-voice.ts';
import { ensureVoicePack } from './pack/cache.ts';
import type { VoicePack } from './pack/load.ts';
import { defaultVoicePackDir } from './pack/paths.ts';
import { createTtsVoice } from './tts-voice.ts';
import type { Voice } from './voice.ts';

export type { Voice } from './voice.ts';
export { createClipVoice, DEFAULT_GAP_MS, joinWithGaps, type ClipVoiceOptions } from './clip-voice.ts';
export { createTtsVoice } from './tts-voice.ts';
export { buildVoicePack, type BuildProgress, type BuildVoicePackOptions } from './pack/build.ts';
export { cachedPackDir, ensureVoicePack, rebuildVoicePack, type EnsureVoicePackOptions } from './pack/cache.ts';
export { listVoicePacks, type PackSummary } from './pack/list.ts';
export { loadVoicePack, VoicePackError, type VoicePack } from './pack/load.ts';
export { MANIFEST_FILE, packVersion, type Manifest } from './pack/manifest.ts';
export { defaultVoicePackDir } from './pack/paths.ts';
export { TRIM_MARGIN_MS, TRIM_THRESHOLD, trimSilence } from './pack/trim.ts';

export interface CreateVoiceOptions {
  langs: Language[];
  log?: Logger;
  /** Where `clips` keeps its packs (default: defaultVoicePackDir()). */
  cacheDir?: string;
  /** Silence between joined clips (clips voice), default DEFAULT_GAP_MS. */
  gapMs?: number;
  /** Progress while a pack is recorded on first use. */
  onProgress?: (done: number, total: number, key: string, lang: Language) => void;
}

type Factory = (opts: CreateVoiceOptions) => Promise<Voice>;

const FACTORIES = {
  clips: clipsVoice,
  espeak: (opts) => checkedTtsVoice(createEspeakEngine(), opts),
  say: (opts) => {
    const why = opts.langs.map((l) => sayUnsupported(l, process.platform)).find(Boolean);
    return why ? Promise.reject(new Error(why)) : checkedTtsVoice(createSayEngine(), opts);
  },
} as const satisfies Record<string, Factory>;

export type VoiceEngineName = keyof typeof FACTORIES;
export const VOICE_ENGINES: readonly VoiceEngineName[] = Object.freeze(Object.keys(FACTORIES) as VoiceEngineName[]);

/** The voice a speaker announces with, ready to use: packs are loaded (or recorded) now, not at the first payment. */
export function createVoice(kind: VoiceEngineName, opts: CreateVoiceOptions): Promise<Voice> {
  const make: Factory | undefined = Object.hasOwn(FACTORIES, kind) ? FACTORIES[kind] : undefined;
  if (!make) return Promise.reject(new Error(`unknown voice engine "${kind}": use one of ${VOICE_ENGINES.join(', ')}`));
  return make(opts);
}

/**
 * Packs loaded by this process, by cache dir and language. A fleet of virtual speakers in one
 * process shares one copy (~2 MB per language) instead of loading and checking it per speaker,
 * the way every box's flash holds the same clips.
 */
const loadedPacks = new Map<string, Promise<VoicePack>>();

/** Packs are recorded with eSpeak: it runs everywhere from npm and reads all three languages. */
async function clipsVoice(opts: CreateVoiceOptions): Promise<Voice> {
  const engine = createEspeakEngine();
  const packs: Partial<Record<Language, VoicePack>> = {};
  for (const lang of opts.langs) {
    const id = `${opts.cacheDir ?? defaultVoicePackDir()}\u0000${lang}`;
    let pack = loadedPacks.get(id);
    if (!pack) {
      const onProgress =
        opts.onProgress && ((done: number, total: number, key: string) => opts.onProgress!(done, total, key, lang));
      pack = ensureVoicePack(lang, { engine, cacheDir: opts.cacheDir, log: opts.log, onProgress });
      loadedPacks.set(id, pack);
      pack.catch(() => loadedPacks.delete(id)); // let a later speaker try again
    }
    packs[lang] = await pack;
  }
  return createClipVoice({ packs, fallback: engine, log: opts.log ?? silentLogger, gapMs: opts.gapMs });
}

/** Speaks a word per language once, so a broken engine fails at boot, not at the first payment. */
async function checkedTtsVoice(engine: TtsEngine, opts: CreateVoiceOptions): Promise<Voice> {
  for (const lang of opts.langs) await engine.synthesize('1', lang);
  return createTtsVoice(engine);
}

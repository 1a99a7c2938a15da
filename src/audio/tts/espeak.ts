/**
 * eSpeak NG compiled to wasm. The package is GPL-3.0, so it stays an optional dependency that we
 * load at run time only: nothing here imports it statically, and a missing package is a clear error.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DEFAULT_SAMPLE_RATE, type Pcm } from '../pcm.ts';
import { createSerialQueue } from '../serial.ts';
import type { TtsEngine, TtsLang } from './engine.ts';

export const ESPEAK_PACKAGE = '@echogarden/espeak-ng-emscripten';

/** BCP-47 tag → eSpeak voice. */
const VOICES: Readonly<Record<TtsLang, string>> = {
  'zh-CN': 'cmn',
  'en-US': 'en-us',
  'hi-IN': 'hi',
};

/** The little of the emscripten module's surface we use (the package ships no types). */
interface EspeakWorker {
  set_voice(voice: string): unknown;
  set_rate(wpm: number): unknown;
  set_pitch(pitch: number): unknown;
  readonly samplerate?: number;
  synthesize(text: string, onChunk: (samples: Int16Array | undefined, events: unknown) => void): unknown;
}
interface EspeakModule {
  eSpeakNGWorker: new () => EspeakWorker;
}
type EspeakModuleFactory = () => Promise<EspeakModule>;

export interface EspeakOptions {
  /** Words per minute (eSpeak default 175). */
  rate?: number;
  /** 0–100 (eSpeak default 50). */
  pitch?: number;
}

/** True when the optional package can be resolved (lets callers and tests decide without loading 24 MB). */
export function espeakInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve(ESPEAK_PACKAGE);
    return true;
  } catch {
    return false;
  }
}

// One wasm instance per process: it holds ~24 MB of voice data, and its worker is not re-entrant,
// so every engine shares it and every call goes through one queue.
let worker: Promise<EspeakWorker> | undefined;
const queue = createSerialQueue();
let currentVoice: string | undefined;

let release: string | undefined;

/** The installed package's release ("0.3.5"), or "missing": part of a voice pack's version. */
export function espeakRelease(): string {
  release ??= readRelease();
  return release;
}

function readRelease(): string {
  try {
    const file = createRequire(import.meta.url).resolve(`${ESPEAK_PACKAGE}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'missing';
  }
}

/** Imports the optional package, turning "not installed" into an error that says what to do. */
export async function importEspeak(specifier: string = ESPEAK_PACKAGE): Promise<EspeakModuleFactory> {
  try {
    // A variable specifier keeps TypeScript and bundlers from treating the package as required.
    return ((await import(specifier)) as { default: EspeakModuleFactory }).default;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const missing =
      code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      /cannot find (package|module)|failed to (load|resolve)/i.test(String(err));
    if (missing) {
      throw new Error(
        `eSpeak TTS needs the optional package ${specifier} (GPL-3.0), which is not installed: run \`npm install ${specifier}\``,
        { cause: err },
      );
    }
    throw new Error(`could not load ${specifier}: ${(err as Error).message}`, { cause: err });
  }
}

function loadWorker(): Promise<EspeakWorker> {
  worker ??= (async () => {
    const init = await importEspeak();
    const m = await init();
    return new m.eSpeakNGWorker();
  })();
  // Forget a failed load so a later call (e.g. after installing the package) can try again.
  worker.catch(() => {
    worker = undefined;
  });
  return worker;
}

export function createEspeakEngine(opts: EspeakOptions = {}): TtsEngine {
  const rate = opts.rate ?? 175;
  const pitch = opts.pitch ?? 50;
  return {
    name: 'espeak-ng',
    version: `${espeakRelease()} rate=${rate} pitch=${pitch}`,
    synthesize(text: string, lang: TtsLang): Promise<Pcm> {
      const voice = VOICES[lang];
      if (!voice) return Promise.reject(new Error(`espeak-ng: no voice for language "${lang}"`));
      return queue.run(async () => {
        const w = await loadWorker();
        if (voice !== currentVoice) {
          w.set_voice(voice);
          currentVoice = voice;
        }
        // Rate and pitch are worker-wide; set them every call because engines may differ.
        w.set_rate(rate);
        w.set_pitch(pitch);
        const chunks: Int16Array[] = [];
        let total = 0;
        w.synthesize(text, (samples) => {
          if (!samples?.length) return;
          // `samples` is a view into wasm memory that the next chunk overwrites: copy it.
          chunks.push(Int16Array.from(samples));
          total += samples.length;
        });
        const out = new Int16Array(total);
        let at = 0;
        for (const c of chunks) {
          out.set(c, at);
          at += c.length;
        }
        return { sampleRate: w.samplerate ?? DEFAULT_SAMPLE_RATE, samples: out };
      });
    },
  };
}

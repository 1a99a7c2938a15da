/**
 * Records a voice pack: every clip of a language's vocabulary, synthesised once, trimmed and
 * stored as a WAV, the way a vendor records the clips it flashes into its boxes. The manifest
 * is written last, so an interrupted build leaves a folder that no loader takes for a pack.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_SAMPLE_RATE, type Pcm } from '../../audio/pcm.ts';
import type { TtsEngine } from '../../audio/tts/engine.ts';
import { encodeWav } from '../../audio/wav.ts';
import { vocabulary, type Clip, type Language } from '../../speech/index.ts';
import {
  clipFileName,
  MANIFEST_FILE,
  packVersion,
  sha256,
  writeManifest,
  type ClipEntry,
  type Manifest,
} from './manifest.ts';
import { packFrom, type VoicePack } from './load.ts';
import { trimSilence } from './trim.ts';

export type BuildProgress = (done: number, total: number, key: string) => void;

export interface BuildVoicePackOptions {
  lang: Language;
  engine: TtsEngine;
  outDir: string;
  onProgress?: BuildProgress;
  /** Clock for builtAt (injected by tests). */
  now?: () => Date;
}

export async function buildVoicePack(opts: BuildVoicePackOptions): Promise<VoicePack> {
  const { lang, engine, outDir } = opts;
  const clips = uniqueClips(lang);
  await clearPack(outDir);
  const entries: [string, ClipEntry][] = [];
  const audio = new Map<string, Pcm>();
  let sampleRate: number | undefined;
  let bytes = 0;
  for (const [i, clip] of clips.entries()) {
    const pcm = await record(engine, clip, lang);
    if (sampleRate !== undefined && pcm.sampleRate !== sampleRate) {
      throw new Error(
        `${engine.name} spoke clip "${clip.key}" at ${pcm.sampleRate} Hz after ${sampleRate} Hz: a pack needs one rate`,
      );
    }
    sampleRate = pcm.sampleRate;
    const wav = encodeWav(pcm);
    const file = clipFileName(i);
    await writeFile(path.join(outDir, file), wav);
    entries.push([clip.key, { file, sha256: sha256(wav), samples: pcm.samples.length }]);
    audio.set(clip.key, pcm);
    bytes += wav.length;
    opts.onProgress?.(i + 1, clips.length, clip.key);
  }
  const manifest: Manifest = {
    format: 1,
    language: lang,
    sampleRate: sampleRate ?? DEFAULT_SAMPLE_RATE,
    version: packVersion(lang, engine, clips),
    engine: engine.name,
    builtAt: (opts.now?.() ?? new Date()).toISOString(),
    clips: Object.fromEntries(entries), // defines own keys, whatever a key is spelled like
  };
  await writeManifest(outDir, manifest);
  return packFrom(outDir, manifest, audio, bytes + Buffer.byteLength(JSON.stringify(manifest, null, 2)) + 1);
}

/** The vocabulary promises unique keys; two texts under one key would make a pack ambiguous. */
function uniqueClips(lang: Language): Clip[] {
  const clips = vocabulary(lang);
  const seen = new Set<string>();
  for (const c of clips) {
    if (seen.has(c.key))
      throw new Error(`the ${lang} vocabulary lists clip "${c.key}" twice: fix src/speech/languages/${lang}.ts`);
    seen.add(c.key);
  }
  return clips;
}

/**
 * Rebuilding over an old pack: drop its manifest first (so a crash mid-build leaves no "complete"
 * pack pointing at new clips) and its clip files (so removed clips do not linger).
 */
async function clearPack(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await rm(path.join(dir, MANIFEST_FILE), { force: true });
  for (const name of await readdir(dir)) {
    if (/^c\d+\.wav$/.test(name)) await rm(path.join(dir, name), { force: true });
  }
}

async function record(engine: TtsEngine, clip: Clip, lang: Language): Promise<Pcm> {
  let raw: Pcm;
  try {
    raw = await engine.synthesize(clip.text, lang);
  } catch (err) {
    throw new Error(
      `${engine.name} could not record clip "${clip.key}" (${JSON.stringify(clip.text)}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const pcm = trimSilence(raw);
  if (pcm.samples.length === 0)
    throw new Error(`${engine.name} recorded only silence for clip "${clip.key}" (${JSON.stringify(clip.text)})`);
  return pcm;
}

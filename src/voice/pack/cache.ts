/**
 * The voice-pack cache: one pack per language and engine under the user cache dir, recorded on
 * first use (like a box flashed at the factory) and re-recorded when its version is stale or it
 * is damaged.
 *
 * Concurrency: several speakers (processes) may start at once on a fresh machine. Each builds
 * into its own temp folder and renames it into place; rename of a folder is atomic, so a reader
 * sees no pack or a whole pack. Whoever renames second finds the place taken, checks that the
 * winner's pack is current and uses it, and throws its own away.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { TtsEngine } from '../../audio/tts/engine.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { Language } from '../../speech/index.ts';
import { buildVoicePack, type BuildProgress } from './build.ts';
import { packVersion } from './manifest.ts';
import { loadVoicePack, VoicePackError, type VoicePack } from './load.ts';
import { defaultVoicePackDir } from './paths.ts';

export interface EnsureVoicePackOptions {
  engine: TtsEngine;
  /** Default: defaultVoicePackDir(). */
  cacheDir?: string;
  log?: Logger;
  onProgress?: BuildProgress;
}

/** zh-CN-espeak-ng: one folder per language and engine, so switching engines does not rebuild. */
export function cachedPackDir(cacheDir: string, lang: Language, engine: TtsEngine): string {
  return path.join(cacheDir, `${lang}-${engine.name.replace(/[^A-Za-z0-9.-]/g, '_')}`);
}

/** The cached pack for `lang`, built (or rebuilt) first when it is missing, stale or damaged. */
export async function ensureVoicePack(lang: Language, opts: EnsureVoicePackOptions): Promise<VoicePack> {
  const log = opts.log ?? silentLogger;
  const dir = cachedPackDir(opts.cacheDir ?? defaultVoicePackDir(), lang, opts.engine);
  const why = await unusable(dir, lang, opts.engine);
  if (typeof why !== 'string') return why;
  if (why === 'missing')
    log.info({ lang, dir }, `recording the ${lang} voice pack with ${opts.engine.name} (first use only)`);
  else log.warn({ lang, dir }, `${why}; re-recording it with ${opts.engine.name}`);
  return buildAndInstall(lang, opts, false);
}

/** Records the pack afresh and swaps it into the cache, whatever is there now (`voicepack build`). */
export function rebuildVoicePack(lang: Language, opts: EnsureVoicePackOptions): Promise<VoicePack> {
  return buildAndInstall(lang, opts, true);
}

/** `replace`: swap out even a current pack found in place (an explicit rebuild) instead of using it. */
async function buildAndInstall(lang: Language, opts: EnsureVoicePackOptions, replace: boolean): Promise<VoicePack> {
  const log = opts.log ?? silentLogger;
  const cacheDir = opts.cacheDir ?? defaultVoicePackDir();
  const dir = cachedPackDir(cacheDir, lang, opts.engine);
  await mkdir(cacheDir, { recursive: true });
  // Dot-named, so `voicepack list` and other builders never take it for a pack.
  const tmp = path.join(cacheDir, `.build-${path.basename(dir)}-${process.pid}-${randomUUID().slice(0, 8)}`);
  const started = performance.now();
  try {
    const built = await buildVoicePack({ lang, engine: opts.engine, outDir: tmp, onProgress: opts.onProgress });
    const pack = await install(tmp, dir, built, replace ? null : opts.engine, log);
    log.info(
      { lang, dir, clips: pack.clips.size, ms: Math.round(performance.now() - started) },
      `${lang} voice pack ready`,
    );
    return pack;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The loaded pack if it can be used as is, else why not ('missing' when there is none). */
async function unusable(dir: string, lang: Language, engine: TtsEngine): Promise<VoicePack | string> {
  try {
    const pack = await loadVoicePack(dir);
    const expected = packVersion(lang, engine);
    if (pack.version === expected) return pack;
    return `the ${lang} voice pack in ${dir} is version ${pack.version}, this payspeaker needs ${expected}`;
  } catch (err) {
    if (err instanceof VoicePackError) return err.missing ? 'missing' : err.message;
    throw err;
  }
}

/**
 * Moves the finished build from `tmp` to `dir`. If another process got there first with a pack
 * current for `engine`, that one is used; anything else in the way (a stale or damaged pack, or
 * any pack when `engine` is null) is moved aside and deleted.
 */
async function install(
  tmp: string,
  dir: string,
  built: VoicePack,
  engine: TtsEngine | null,
  log: Logger,
): Promise<VoicePack> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await rename(tmp, dir);
      return { ...built, dir };
    } catch (err) {
      if (!isTaken(err)) throw err;
      lastError = err;
    }
    const there = engine ? await unusable(dir, built.language, engine) : 'replacing';
    if (typeof there !== 'string') {
      log.debug({ dir }, 'another builder installed this voice pack first; using theirs');
      return there;
    }
    await moveAsideAndDelete(dir);
  }
  throw new Error(`could not move the new voice pack into ${dir}: ${(lastError as Error).message}`, {
    cause: lastError,
  });
}

/** rename() onto an existing non-empty folder: ENOTEMPTY or EEXIST on POSIX, EPERM on Windows. */
function isTaken(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM';
}

async function moveAsideAndDelete(dir: string): Promise<void> {
  const aside = `${path.join(path.dirname(dir), `.old-${path.basename(dir)}`)}-${randomUUID().slice(0, 8)}`;
  try {
    await rename(dir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it already
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
}

/**
 * Loads a voice pack into memory and checks it: every clip's checksum, WAV format, rate and
 * length must match the manifest. A pack that fails is never half-used: a box that says half an
 * amount is worse than one that falls back to TTS.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Pcm } from '../../audio/pcm.ts';
import type { Language } from '../../speech/index.ts';
import { MANIFEST_FILE, ManifestError, readManifest, sha256, type ClipEntry, type Manifest } from './manifest.ts';
import { rebuildCommand } from './paths.ts';
import { checkedClip } from './clip-check.ts';

export interface VoicePack {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly language: Language;
  readonly version: string;
  readonly sampleRate: number;
  /** Clip key → audio, already trimmed. */
  readonly clips: ReadonlyMap<string, Pcm>;
  /** Bytes on disk: the clips plus the manifest. */
  readonly bytes: number;
}

export class VoicePackError extends Error {
  override name = 'VoicePackError';
  constructor(
    message: string,
    readonly dir: string,
    /** The clip file at fault, when one is. */
    readonly file?: string,
    /** No manifest: never built or interrupted, rather than damaged. */
    readonly missing = false,
  ) {
    super(message);
  }
}

export function packFrom(dir: string, manifest: Manifest, clips: ReadonlyMap<string, Pcm>, bytes: number): VoicePack {
  return {
    dir,
    manifest,
    language: manifest.language,
    version: manifest.version,
    sampleRate: manifest.sampleRate,
    clips,
    bytes,
  };
}

export async function loadVoicePack(dir: string): Promise<VoicePack> {
  let manifest: Manifest;
  try {
    manifest = await readManifest(dir);
  } catch (err) {
    if (!(err instanceof ManifestError)) throw err;
    throw new VoicePackError(
      `${err.message}; build it with \`${rebuildCommand(undefined, dir)}\``,
      dir,
      MANIFEST_FILE,
      err.missing,
    );
  }
  const entries = Object.entries(manifest.clips);
  const loaded = await Promise.all(entries.map(([key, entry]) => loadClip(dir, manifest, key, entry)));
  const clips = new Map(entries.map(([key], i) => [key, loaded[i]!.pcm]));
  const manifestBytes = (await stat(path.join(dir, MANIFEST_FILE))).size;
  return packFrom(
    dir,
    manifest,
    clips,
    loaded.reduce((n, c) => n + c.bytes, manifestBytes),
  );
}

async function loadClip(
  dir: string,
  manifest: Manifest,
  key: string,
  entry: ClipEntry,
): Promise<{ pcm: Pcm; bytes: number }> {
  const fail = (problem: string) =>
    new VoicePackError(
      `voice pack ${dir} is damaged: ${entry.file} (clip "${key}") ${problem}; rebuild it with \`${rebuildCommand(manifest.language, dir)}\``,
      dir,
      entry.file,
    );
  let bytes: Buffer;
  try {
    bytes = await readFile(path.join(dir, entry.file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fail('is missing');
    throw err;
  }
  const pcm = checkedClip(manifest, entry, bytes, sha256(bytes), fail);
  return { pcm, bytes: bytes.length };
}

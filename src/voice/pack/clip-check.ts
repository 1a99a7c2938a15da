/**
 * The checks a clip passes before a speaker may say it, wherever its bytes came from: a pack on
 * disk (load.ts) or the broker over HTTP (a speaker in a browser tab). Checksum first, then the
 * WAV itself against the manifest; a clip that fails is never used.
 */
import type { Pcm } from '../../audio/pcm.ts';
import { decodeWav } from '../../audio/wav.ts';
import type { ClipEntry, Manifest } from './manifest-schema.ts';

/**
 * The clip's audio, or throws `fail(problem)`: `sha256` is the hex digest of `bytes`, computed
 * by the caller with what its platform has (node:crypto, WebCrypto).
 */
export function checkedClip(
  manifest: Manifest,
  entry: ClipEntry,
  bytes: Uint8Array,
  sha256: string,
  fail: (problem: string) => Error,
): Pcm {
  if (sha256 !== entry.sha256)
    throw fail(`has sha256 ${sha256.slice(0, 12)}…, the manifest says ${entry.sha256.slice(0, 12)}…`);
  let pcm: Pcm;
  try {
    pcm = decodeWav(bytes);
  } catch (err) {
    throw fail(`is not a readable WAV: ${(err as Error).message}`);
  }
  if (pcm.sampleRate !== manifest.sampleRate)
    throw fail(`is ${pcm.sampleRate} Hz, the pack is ${manifest.sampleRate} Hz`);
  if (pcm.samples.length !== entry.samples)
    throw fail(`has ${pcm.samples.length} samples, the manifest says ${entry.samples}`);
  return pcm;
}

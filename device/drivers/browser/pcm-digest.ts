/**
 * The pure half of the WebAudio driver, testable in Node: the kernel's int16 PCM as WebAudio's
 * float samples, and a running digest of every sample played, so a browser test can prove the
 * tab played exactly the PCM the Node voice renders (issue 13) without mocking WebAudio.
 *
 * The digest is SHA-256 over the little-endian int16 bytes of each played clip, in play order:
 * the same bytes a WAV file's data chunk holds, so `sha256sum` of concatenated data chunks (or
 * node:crypto over `Buffer.from(samples.buffer)`) gives the same answer.
 *
 * Why @noble/hashes and not crypto.subtle.digest: SubtleCrypto has no incremental API, so it
 * would mean keeping every byte the tab ever played (about 44 KB per second of speech at
 * 22,050 Hz) for a tab that may run all day. noble's sha256 is incremental (constant memory),
 * synchronous, audited, has no dependencies and runs unchanged in Node and browsers.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Pcm } from '../../../src/audio/pcm.ts';

/** Full scale of int16: -32768 maps to exactly -1, and every int16 / 2^15 is exact in float32. */
const INT16_SCALE = 32768;

/**
 * The samples as WebAudio floats, s / 32768. Exact: a 16-bit integer divided by a power of two
 * fits float32's 24-bit mantissa, so converting back (f * 32768) gives the same integers.
 */
export function pcmToFloat32(pcm: Pcm): Float32Array<ArrayBuffer> {
  const out = new Float32Array(pcm.samples.length);
  for (let i = 0; i < out.length; i++) out[i] = pcm.samples[i]! / INT16_SCALE;
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The samples' bytes, little-endian int16 whatever the platform's byte order (a view, not a copy, where it can be). */
export function pcmBytesLE(samples: Int16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i]!, true);
  return out;
}

export interface PlayedDigest {
  /** Hex SHA-256 over the little-endian int16 bytes of every clip played, in order. */
  sha256: string;
  /** Samples played in all. */
  samples: number;
  /** Largest absolute sample played (32768 for a full-scale negative sample). */
  peak: number;
}

/** One clip's digest and peak (a few ms for a sentence; the tab plays a few clips a minute). */
export function clipDigest(samples: Int16Array): { sha256: string; peak: number } {
  return { sha256: bytesToHex(sha256(pcmBytesLE(samples))), peak: peakOf(samples) };
}

function peakOf(samples: Int16Array): number {
  let peak = 0;
  for (const s of samples) {
    const abs = s < 0 ? -s : s;
    if (abs > peak) peak = abs;
  }
  return peak;
}

/** Running digest, peak and count of played PCM; constant memory however long the tab runs. */
export class PcmDigest {
  private readonly hash = sha256.create();
  private samples = 0;
  private peak = 0;

  add(samples: Int16Array): void {
    this.hash.update(pcmBytesLE(samples));
    this.samples += samples.length;
    this.peak = Math.max(this.peak, peakOf(samples));
  }

  /** The digest so far; the running hash goes on (a clone is finalised, not it). */
  current(): PlayedDigest {
    return { sha256: bytesToHex(this.hash.clone().digest()), samples: this.samples, peak: this.peak };
  }
}

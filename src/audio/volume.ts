/**
 * Speaker volume as real boxes do it: eleven steps, 0 (mute) to 10 (full scale), 3 dB apart,
 * applied to the PCM itself so a quieter setting really is quieter in every output (file or
 * speaker). Level 7 is -9 dB; level 1 is -27 dB.
 */
import type { Pcm } from './pcm.ts';

export const MIN_VOLUME = 0;
export const MAX_VOLUME = 10;
export const DEFAULT_VOLUME = 7;
const DB_PER_STEP = 3;

export function isVolume(level: unknown): level is number {
  return Number.isInteger(level) && (level as number) >= MIN_VOLUME && (level as number) <= MAX_VOLUME;
}

/** Linear gain for a volume level: 10 → 1, 9 → 0.708, …, 1 → 0.045, 0 → 0. */
export function volumeGain(level: number): number {
  if (!isVolume(level))
    throw new RangeError(`volume must be an integer from ${MIN_VOLUME} to ${MAX_VOLUME}, got ${level}`);
  return level === 0 ? 0 : 10 ** ((-(MAX_VOLUME - level) * DB_PER_STEP) / 20);
}

/** A copy of `pcm` scaled to `level`; full volume returns the input unchanged. */
export function applyVolume(pcm: Pcm, level: number): Pcm {
  const gain = volumeGain(level);
  if (gain === 1) return pcm;
  const samples = new Int16Array(pcm.samples.length);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(pcm.samples[i]! * gain);
  return { sampleRate: pcm.sampleRate, samples };
}

/** Largest absolute sample: what "louder" means in tests. */
export function peak(pcm: Pcm): number {
  let max = 0;
  for (const s of pcm.samples) max = Math.max(max, Math.abs(s));
  return max;
}

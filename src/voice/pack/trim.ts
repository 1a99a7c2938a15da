/**
 * Cuts the silence TTS engines put before and after a clip, so joined clips sound like one
 * sentence and the gap between them is only the one the voice chooses (eSpeak pads ~12 ms in
 * front and ~7 ms behind; other engines pad far more).
 *
 * Threshold: a sample counts as sound when |s| > 256, about -42 dBFS — above the dither and
 * noise of synthetic and recorded clips, below every onset we measured. Because a soft onset
 * (the "s" of 四, the "f" of fifty) starts below that, MARGIN_MS of the quiet lead-in and tail
 * are kept on each side.
 */
import type { Pcm } from '../../audio/pcm.ts';

export const TRIM_THRESHOLD = 256;
export const TRIM_MARGIN_MS = 5;

export function trimSilence(pcm: Pcm, threshold = TRIM_THRESHOLD, marginMs = TRIM_MARGIN_MS): Pcm {
  const { samples, sampleRate } = pcm;
  let first = 0;
  while (first < samples.length && Math.abs(samples[first]!) <= threshold) first++;
  if (first === samples.length) return { sampleRate, samples: new Int16Array(0) };
  let last = samples.length - 1;
  while (Math.abs(samples[last]!) <= threshold) last--;
  const margin = Math.round((marginMs * sampleRate) / 1000);
  const start = Math.max(0, first - margin);
  const end = Math.min(samples.length, last + 1 + margin);
  return { sampleRate, samples: samples.slice(start, end) };
}

import { describe, expect, it } from 'vitest';
import { TRIM_MARGIN_MS, TRIM_THRESHOLD, trimSilence } from '../../src/voice/index.ts';

describe('trimSilence', () => {
  const rate = 1000; // 1 sample per ms keeps the arithmetic readable
  const margin = TRIM_MARGIN_MS;

  it('cuts quiet lead-in and tail down to the margin, keeping the sound whole', () => {
    const quiet = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? TRIM_THRESHOLD : -TRIM_THRESHOLD)); // at, not above, the threshold
    const sound = [TRIM_THRESHOLD + 1, 9000, -12000, 0, 5000];
    const pcm = { sampleRate: rate, samples: Int16Array.from([...quiet(50), ...sound, ...quiet(80)]) };
    const out = trimSilence(pcm);
    expect(out.sampleRate).toBe(rate);
    expect([...out.samples]).toEqual([...quiet(50).slice(-margin), ...sound, ...quiet(margin)]);
  });

  it('keeps everything when the sound reaches both ends', () => {
    const samples = Int16Array.from([4000, 0, 0, -4000]);
    expect([...trimSilence({ sampleRate: rate, samples }).samples]).toEqual([...samples]);
  });

  it('returns nothing for pure silence', () => {
    expect(trimSilence({ sampleRate: rate, samples: new Int16Array(100) }).samples).toHaveLength(0);
  });
});

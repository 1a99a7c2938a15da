import { describe, expect, it } from 'vitest';
import { concatPcm, durationMs, nonSilentMs, silence, type Pcm } from '../../src/audio/pcm.ts';

function tone(ms: number, amp: number, rate = 22_050): Pcm {
  const n = Math.round((ms * rate) / 1000);
  const samples = Int16Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * 440 * i) / rate)));
  return { sampleRate: rate, samples };
}

describe('pcm', () => {
  it('silence has the requested length and is silent', () => {
    const s = silence(250, 16_000);
    expect(s.samples.length).toBe(4000);
    expect(durationMs(s)).toBe(250);
    expect(nonSilentMs(s)).toBe(0);
  });

  it('concatenates in order and refuses mixed rates', () => {
    const a = { sampleRate: 8000, samples: Int16Array.of(1, 2) };
    const b = { sampleRate: 8000, samples: Int16Array.of(3) };
    expect(Array.from(concatPcm([a, b]).samples)).toEqual([1, 2, 3]);
    expect(concatPcm([]).samples.length).toBe(0);
    expect(() => concatPcm([a, silence(10, 22_050)])).toThrow(/cannot join 22050 Hz audio onto 8000 Hz/);
  });

  it('nonSilentMs counts loud audio and ignores quiet noise', () => {
    const pcm = concatPcm([silence(300, 22_050), tone(500, 8000), tone(200, 50)]);
    expect(nonSilentMs(pcm)).toBeGreaterThan(480);
    expect(nonSilentMs(pcm)).toBeLessThan(520);
  });

  it('rejects nonsense arguments', () => {
    expect(() => silence(-1, 22_050)).toThrow(RangeError);
    expect(() => silence(10, 0)).toThrow(/sample rate/);
  });
});

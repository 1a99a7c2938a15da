/**
 * Mono 16-bit PCM, the one audio shape the whole simulator passes around.
 * TTS engines produce it, sinks consume it, tests measure it.
 */
export interface Pcm {
  sampleRate: number;
  samples: Int16Array;
}

/** eSpeak NG's native rate; used only when an empty list gives us no rate to copy. */
export const DEFAULT_SAMPLE_RATE = 22_050;

export function concatPcm(parts: Pcm[]): Pcm {
  const first = parts[0];
  if (!first) return { sampleRate: DEFAULT_SAMPLE_RATE, samples: new Int16Array(0) };
  const sampleRate = first.sampleRate;
  let total = 0;
  for (const p of parts) {
    // Joining different rates would silently change pitch and speed: refuse instead.
    if (p.sampleRate !== sampleRate) {
      throw new Error(`concatPcm: cannot join ${p.sampleRate} Hz audio onto ${sampleRate} Hz audio (resample first)`);
    }
    total += p.samples.length;
  }
  const samples = new Int16Array(total);
  let at = 0;
  for (const p of parts) {
    samples.set(p.samples, at);
    at += p.samples.length;
  }
  return { sampleRate, samples };
}

export function silence(ms: number, sampleRate: number): Pcm {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`silence: ms must be a finite number >= 0, got ${ms}`);
  checkRate(sampleRate);
  return { sampleRate, samples: new Int16Array(Math.round((ms * sampleRate) / 1000)) };
}

export function durationMs(pcm: Pcm): number {
  checkRate(pcm.sampleRate);
  return (pcm.samples.length * 1000) / pcm.sampleRate;
}

/**
 * Milliseconds of audio whose loudness is above `threshold` (RMS over 10 ms windows, in int16 units).
 * Windows rather than single samples, because speech crosses zero constantly and per-sample counts
 * would undercount it. The default (~-36 dBFS) is well above dither/noise and well below speech.
 */
export function nonSilentMs(pcm: Pcm, threshold = 500): number {
  checkRate(pcm.sampleRate);
  const win = Math.max(1, Math.round(pcm.sampleRate / 100));
  const { samples } = pcm;
  let loudSamples = 0;
  for (let start = 0; start < samples.length; start += win) {
    const end = Math.min(start + win, samples.length);
    let sumSq = 0;
    for (let i = start; i < end; i++) {
      const s = samples[i]!;
      sumSq += s * s;
    }
    if (Math.sqrt(sumSq / (end - start)) > threshold) loudSamples += end - start;
  }
  return (loudSamples * 1000) / pcm.sampleRate;
}

function checkRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new RangeError(`sample rate must be a positive integer, got ${sampleRate}`);
  }
}

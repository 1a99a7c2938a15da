/** Percentiles over a sample of durations, for benchmark reports. */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? NaN, mean };
}

export function formatMs(s: Summary): string {
  const f = (n: number) => n.toFixed(2).padStart(8);
  return `n=${String(s.count).padEnd(5)} p50 ${f(s.p50)} ms  p90 ${f(s.p90)} ms  p99 ${f(s.p99)} ms  max ${f(s.max)} ms`;
}

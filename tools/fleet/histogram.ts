/**
 * Latency histograms (HdrHistogram, hdr-histogram-js) in microseconds, 3 significant digits:
 * every recorded value is kept to within 0.1 %, from 1 µs up, whatever the count.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

const ms = (us: number) => Math.round(us) / 1000;

/**
 * The value at a percentile, never above the largest value recorded. HdrHistogram answers a
 * percentile with the *highest value equivalent* to its bucket (at 3 significant digits a
 * bucket near 61 ms is 32 µs wide: 61,440-61,471 µs), while `maxValue` is the exact largest
 * value recorded (61,466 µs). Unclamped, p99.9 would read 61.471 ms above a max of 61.466 ms.
 * The true value at the percentile lies in the bucket and is at most the max, so the clamp
 * stays within the histogram's stated precision and makes the figures consistent.
 */
export function valueAtPercentile(h: Histogram, percentile: number): number {
  return Math.min(h.getValueAtPercentile(percentile), h.maxValue);
}

export function summarizeHistogram(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const at = (p: number) => ms(valueAtPercentile(h, p));
  return {
    count: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/** Points of the percentile curve, for the plot: percentile (0-100) and milliseconds. */
export function percentileCurve(h: Histogram): { percentile: number; ms: number }[] {
  if (h.totalCount === 0) return [];
  const points: { percentile: number; ms: number }[] = [];
  // Evenly spaced on the plot's axis, log10(1 / (1 - p)): 0 %, 90 %, 99 %, 99.9 %, … get equal room.
  const top = Math.min(6, Math.log10(h.totalCount));
  for (let x = 0; x <= top + 1e-9; x += 0.05) {
    const percentile = 100 * (1 - 10 ** -x);
    points.push({ percentile, ms: ms(valueAtPercentile(h, percentile)) });
  }
  points.push({ percentile: 100, ms: ms(h.maxValue) });
  return points;
}

/**
 * The soak run's verdict: the report from what was paid, heard and sampled. A payment must be
 * announced exactly once and end played (or duplicate); per process group and measure, memory
 * may not grow from the baseline to the end beyond the bound. The growth maths (medians at each
 * end, least-squares slope) live here, apart from the run, so they can be read and tested alone.
 */
import type { PaymentStatus } from '../api/client.ts';
import { countStatuses } from '../chaos/scenario-report.ts';
import type { Rig } from './rig.ts';
import type { GrowthBound, GrowthCheck, MemorySample, SoakOptions, SoakReport } from './types.ts';

export function buildReport(
  opts: SoakOptions,
  rig: Rig,
  paid: { ids: string[]; retries: number },
  statuses: Map<string, PaymentStatus>,
  heard: Map<string, number>,
  summarized: Set<string>,
  samples: MemorySample[],
): SoakReport {
  const counts = countStatuses(statuses);
  const problems: string[] = [];
  const note = (p: string) => problems.length < 10 && problems.push(p);
  let played = 0;
  let lost = 0;
  let twice = 0;
  for (const id of paid.ids) {
    const n = heard.get(id) ?? 0;
    const status = statuses.get(id);
    if (n > 1) {
      twice++;
      note(`${id} announced ${n} times (status ${status})`);
    } else if (n === 1 && status === 'played') played++;
    if (n === 0 || (status !== 'played' && status !== 'duplicate')) {
      lost++;
      note(`${id}: announced ${n}×, status ${status}${summarized.has(id) ? ', heard in a summary' : ''}`);
    }
  }
  const checks = growthChecks(samples, opts.maxGrowth);
  const speakers = rig.workers.reduce(
    (a, w) => ({
      redelivered: a.redelivered + w.counters.redelivered,
      rejected: a.rejected + w.counters.rejected,
      reasons: [...a.reasons, ...w.counters.reasons].slice(0, 5),
    }),
    { redelivered: 0, rejected: 0, reasons: [] as string[] },
  );
  return {
    ok: lost === 0 && twice === 0 && checks.length > 0 && checks.every((c) => c.ok),
    seed: opts.seed,
    devices: opts.devices,
    workers: rig.workers.length,
    rate: opts.rate,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
    accepted: paid.ids.length,
    played,
    lost,
    twice,
    summarized: summarized.size,
    statuses: counts,
    speakers,
    faults: rig.proxy.stats().faults,
    apiRetries: paid.retries,
    memory: {
      bound: opts.maxGrowth,
      samples,
      checks,
      brokerSource:
        'the broker process itself (tools/soak/memory-probe.mjs): process.memoryUsage() after a full GC, every sample period',
    },
    problems,
  };
}

/**
 * Per group (broker, speakers) and measure (RSS, heap after GC): the median of the first three
 * samples after the warm-up is the baseline, the median of the last three the end (fewer when
 * there are fewer than six); growth beyond the bound fails.
 */
export function growthChecks(samples: MemorySample[], bound: GrowthBound): GrowthCheck[] {
  const measured = samples.filter((s) => !s.warmup);
  if (measured.length < 2) return [];
  const checks: GrowthCheck[] = [];
  for (const group of ['broker', 'speakers'] as const) {
    for (const measure of ['rss', 'heapUsed'] as const) {
      const points = measured
        .map((s) => ({ t: s.atMs, v: s[group]?.[measure] }))
        .filter((p): p is { t: number; v: number } => p.v !== undefined);
      if (points.length < 2) continue;
      // Medians of (up to) three samples at each end: one GC-timed or page-cache blip is not a trend.
      const k = Math.max(1, Math.min(3, Math.floor(points.length / 2)));
      const baseline = median(points.slice(0, k).map((p) => p.v));
      const end = median(points.slice(-k).map((p) => p.v));
      const allowed = 'percent' in bound ? (baseline * bound.percent) / 100 : bound.bytes;
      checks.push({
        group,
        measure,
        baseline,
        end,
        growth: end - baseline,
        allowed,
        slopePerMinute: slope(points) * 60_000,
        ok: end - baseline <= allowed,
      });
    }
  }
  return checks;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Least-squares slope of v over t. */
function slope(points: { t: number; v: number }[]): number {
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

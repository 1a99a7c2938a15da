/**
 * The soak run's shapes: its options and their defaults, the progress it reports while it runs,
 * a memory sample, a growth check and the final report. Kept apart from the code so that every
 * part of the run (rig, sampler, payments, verdict) and bench/soak.ts can share them without
 * importing one another.
 */
import type { PaymentStatus } from '../api/client.ts';
import type { Language } from '../../src/speech/index.ts';
import type { ProxyStats } from '../chaos/proxy.ts';

export interface SoakOptions {
  durationMs: number;
  warmupMs: number;
  devices: number;
  /** Payments per second through the API. */
  rate: number;
  /** Speaker processes the devices are split over. */
  workers: number;
  /** Mean life of a proxied connection before a random fault (reset 3 : drop 1 : blackhole 1). */
  meanFaultMs: number;
  blackholeMs: number;
  sampleMs: number;
  /** Growth allowed from the baseline, per process group and measure. */
  maxGrowth: GrowthBound;
  /** After the last payment, how long to wait for the rest to be announced. */
  drainMs: number;
  seed: number;
  lang: Language;
  rememberedIds: number;
  /** Where the run keeps its data; a temporary folder (removed afterwards) when omitted. */
  dataDir?: string;
  onProgress?: (p: SoakProgress) => void;
  /** Called with every memory sample as it is taken. */
  onSample?: (s: MemorySample) => void;
}

/** `percent` of the baseline, or an absolute number of bytes. */
export type GrowthBound = { percent: number } | { bytes: number };

export interface SoakProgress {
  phase: 'starting' | 'warm-up' | 'measuring' | 'draining' | 'checking';
  elapsedMs: number;
  accepted: number;
  announced: number;
  online: number;
  devices: number;
  faults: number;
  last: MemorySample | null;
}

export interface MemorySample {
  /** Milliseconds since the payments started. */
  atMs: number;
  warmup: boolean;
  broker: { rss: number; heapUsed: number } | null;
  /** Summed over the speaker processes. */
  speakers: { rss: number; heapUsed: number };
  accepted: number;
  announced: number;
}

export interface GrowthCheck {
  group: 'broker' | 'speakers';
  measure: 'rss' | 'heapUsed';
  baseline: number;
  end: number;
  growth: number;
  allowed: number;
  /** Least-squares slope over the measured samples, bytes per minute. */
  slopePerMinute: number;
  ok: boolean;
}

export interface SoakReport {
  ok: boolean;
  seed: number;
  devices: number;
  workers: number;
  rate: number;
  durationMs: number;
  warmupMs: number;
  accepted: number;
  /** Payments the API calls played and a speaker announced exactly once. */
  played: number;
  /** Payments not announced, or not final `played`/`duplicate` by the end of the drain. */
  lost: number;
  /** Payments announced more than once. */
  twice: number;
  /** Heard in a summary instead of on their own (should not happen with summaries off). */
  summarized: number;
  statuses: Record<PaymentStatus, number>;
  speakers: { redelivered: number; rejected: number; reasons: string[] };
  faults: ProxyStats['faults'];
  apiRetries: number;
  memory: { bound: GrowthBound; samples: MemorySample[]; checks: GrowthCheck[]; brokerSource: string };
  /** Up to ten payments lost or twice, for the report. */
  problems: string[];
}

export const SOAK_DEFAULTS = {
  devices: 200,
  rate: 20,
  workers: 2,
  meanFaultMs: 60_000,
  blackholeMs: 5_000,
  sampleMs: 10_000,
  /** The shortest warm-up; `warmupFor` lengthens it until the bounded histories are full. */
  warmupMs: 120_000,
  drainMs: 60_000,
  lang: 'zh-CN' as Language,
  /**
   * Below the firmware's 1000, so each speaker's dedupe memory is full (20 ids at 0.1 payment/s
   * per speaker: 200 s) soon after the warm-up instead of after 2.8 hours; bench/soak.ts says more.
   */
  rememberedIds: 20,
};

/**
 * The default warm-up: until the two histories known to grow by design are full, plus a minute,
 * and at least SOAK_DEFAULTS.warmupMs. The broker keeps each device's last `brokerHistory` acks
 * and a speaker its last `rememberedIds` payment ids; at `rate` payments/s spread over `devices`,
 * the longer one fills after max(brokerHistory, rememberedIds) × devices / rate seconds (1,000 s
 * at the defaults). Measuring before that compares a process with half-full tables to one with
 * full ones, which is growth by design, not a leak. Never more than two thirds of the run, so
 * there is always something to measure; `capped` says when the histories were still filling.
 */
export function warmupFor(
  opts: { devices: number; rate: number; rememberedIds: number; durationMs: number },
  brokerHistory: number,
): { warmupMs: number; fillMs: number; capped: boolean } {
  const fillMs = Math.ceil((Math.max(brokerHistory, opts.rememberedIds) * opts.devices * 1000) / opts.rate);
  const wanted = Math.max(SOAK_DEFAULTS.warmupMs, fillMs + 60_000);
  const most = Math.floor((opts.durationMs * 2) / 3);
  return { warmupMs: Math.min(wanted, most), fillMs, capped: fillMs >= most };
}

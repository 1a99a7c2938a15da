/**
 * Between connecting and the first measured load: let the fleet settle, then warm it up, so the
 * first load measures the fleet rather than its start. Just after connecting, workers and broker
 * are still busy with what connecting set off (retained state, first telemetry, sessions), and
 * V8 has not yet compiled the payment path: the first second of a 10,000-speaker run at 1,000/s
 * had a p50 of 96-300 ms against 2.5 ms after it, which put a p50 of 200 ms into a 10 s load.
 *
 * Settling watches the CPU of this process's children (workers, embedded broker, a local
 * Mosquitto) in /proc until none is busy, within a bound; elsewhere it waits a fixed second.
 * The warm-up is then an ordinary load on its own tally, heard like any other and left out of
 * every figure.
 */
import fs from 'node:fs';
import { preciseNow } from './clock.ts';
import type { Load } from './generator.ts';
import type { Tally } from './tally.ts';

export interface WarmupReport {
  /** How long settling took (s), and whether every child went quiet within the bound. */
  settleS: number;
  quiet: boolean;
  /** The busiest child's share of a core over the last half second of settling; null where /proc is not there. */
  busiest: number | null;
  rate: number | 'max';
  /** Outstanding payments at max rate; null at a fixed rate. */
  window: number | null;
  durationS: number;
  sent: number;
  heard: number;
}

/** Quiet: no child above this share of a core over the last SETTLE_WINDOW_MS. */
const QUIET_SHARE = 0.2;
const SETTLE_WINDOW_MS = 500;
const SAMPLE_MS = 100;
/** Without /proc: a fixed wait. */
const BLIND_SETTLE_MS = 1000;
/** Linux's USER_HZ: /proc reports CPU time in these ticks on every architecture. */
const TICK_MS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU milliseconds used so far by each child process of `pid`; null where /proc cannot say. */
export function childrenCpuMs(pid = process.pid): Map<number, number> | null {
  let children: number[];
  try {
    children = fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return null;
  }
  const cpu = new Map<number, number>();
  for (const child of children) {
    try {
      // Fields after the command name, which is in parentheses and may hold spaces: state is
      // field 3, utime and stime fields 14 and 15 (man 5 proc).
      const stat = fs.readFileSync(`/proc/${child}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(child, (Number(fields[11]) + Number(fields[12])) * TICK_MS);
    } catch {
      // Exited between the two reads.
    }
  }
  return cpu;
}

/**
 * Waits until no child of this process uses more than a fifth of a core (over half a second),
 * or `maxMs`. Returns how long it took, whether it got quiet, and the busiest child's share.
 */
export async function settle(
  maxMs: number,
  readCpu: () => Map<number, number> | null = childrenCpuMs,
): Promise<{ ms: number; quiet: boolean; busiest: number | null }> {
  const start = preciseNow();
  const samples: { at: number; cpu: Map<number, number> }[] = [];
  for (;;) {
    const cpu = readCpu();
    const at = preciseNow();
    if (!cpu) {
      await sleep(Math.min(BLIND_SETTLE_MS, maxMs));
      return { ms: preciseNow() - start, quiet: false, busiest: null };
    }
    samples.push({ at, cpu });
    // The latest sample at least a window old (samples are in time order).
    const old = [...samples].reverse().find((s) => at - s.at >= SETTLE_WINDOW_MS);
    const busiest = old ? busiestShare(old, { at, cpu }) : null;
    if (busiest !== null && busiest < QUIET_SHARE) return { ms: at - start, quiet: true, busiest };
    if (at - start >= maxMs) return { ms: at - start, quiet: false, busiest };
    await sleep(SAMPLE_MS);
  }
}

function busiestShare(
  from: { at: number; cpu: Map<number, number> },
  to: { at: number; cpu: Map<number, number> },
): number {
  let busiest = 0;
  for (const [pid, ms] of to.cpu) busiest = Math.max(busiest, (ms - (from.cpu.get(pid) ?? ms)) / (to.at - from.at));
  return busiest;
}

/** Waits for the warm-up's payments to be heard, at most `maxMs`: stragglers would land in the first load. */
export async function drainWarmup(tally: Tally, maxMs: number): Promise<void> {
  const until = preciseNow() + maxMs;
  while (tally.heard < tally.sent && preciseNow() < until) await sleep(20);
}

/** Settling's bound: past it the warm-up starts anyway, and the report says the fleet was not quiet. */
export const SETTLE_MAX_MS = 5000;

/** The warm-up offers the first load's rate (a scenario's: its peak, constant) for `durationMs`. */
export function warmupLoad(first: Load, durationMs: number): Load {
  return { rate: first.rate, durationMs, window: first.window };
}

export function warmupReport(
  settled: { ms: number; quiet: boolean; busiest: number | null },
  load: Load,
  tally: Tally,
): WarmupReport {
  const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    settleS: round(settled.ms / 1000, 2),
    quiet: settled.quiet,
    busiest: settled.busiest === null ? null : round(settled.busiest, 2),
    rate: load.rate,
    window: load.rate === 'max' ? load.window : null,
    durationS: load.durationMs / 1000,
    sent: tally.sent,
    heard: tally.heard,
  };
}

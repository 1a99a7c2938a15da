/**
 * What the fleet benchmarks share (`npm run bench`: bench/fleet.ts, `npm run bench:quick`:
 * bench/quick.ts): flag parsing, running one fleet with a progress line on stderr, the ratios,
 * the machine, and the table of one load across fleets with the generator's lag beside the
 * latency it is part of.
 */
import os from 'node:os';
import { FLEET_DEFAULTS, runFleet, type FleetOptions } from '../tools/fleet/run.ts';
import { describeLoad, lagWarning, type FleetReport, type LoadReport } from '../tools/fleet/report.ts';
import type { Load } from '../tools/fleet/generator.ts';
import { parseDuration } from '../tools/cli/duration.ts';

export const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

export function count(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${text}`);
  return n;
}

/** The flags both benchmarks take (for node:util parseArgs), with each one's defaults. */
export function fleetFlags(defaults: { devices: string; duration: string; drain: string }) {
  const text = (value: string) => ({ type: 'string', default: value }) as const;
  return {
    devices: text(defaults.devices),
    rate: text('1000'),
    duration: text(defaults.duration),
    'max-duration': text(defaults.duration),
    window: text('1000'),
    drain: text(defaults.drain),
    warmup: text(`${FLEET_DEFAULTS.warmupMs / 1000}s`),
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
}

type FleetFlagValues = Record<'devices' | 'duration' | 'max-duration' | 'window' | 'drain' | 'warmup', string>;

/** Each fixed rate for --duration, then max rate for --max-duration; and what every fleet of the run shares. */
export function fleetPlan(values: FleetFlagValues, rates: number[]): Omit<FleetOptions, 'mode' | 'brokerUrl'> {
  const window = count(values.window, '--window');
  const loads: Load[] = [
    ...rates.map((rate) => ({ rate, durationMs: parseDuration(values.duration, '--duration'), window })),
    { rate: 'max', durationMs: parseDuration(values['max-duration'], '--max-duration'), window },
  ];
  return {
    ...FLEET_DEFAULTS,
    devices: count(values.devices, '--devices'),
    loads,
    drainMs: parseDuration(values.drain, '--drain'),
    warmupMs: parseDuration(values.warmup, '--warmup', { allowZero: true }),
  };
}

/** Runs one fleet, saying on stderr what it is and how long it took. */
export async function runLabelled(label: string, opts: FleetOptions): Promise<FleetReport> {
  progress(
    `${label}: ${opts.devices} ${opts.mode === 'raw' ? 'raw MQTT clients' : 'speakers'}; loads ${opts.loads.map(describeLoad).join(', then ')}` +
      (opts.warmupMs > 0 ? ` after a ${opts.warmupMs / 1000} s warm-up` : ''),
  );
  const started = performance.now();
  const report = await runFleet(opts);
  progress(
    `${label}: done in ${((performance.now() - started) / 1000).toFixed(0)} s (connect ${report.connect.seconds} s)`,
  );
  return report;
}

/** x / y to two decimals; null when either is missing. */
export function ratio(x: number | undefined, y: number | undefined): number | null {
  return x !== undefined && y !== undefined && y > 0 ? Math.round((x / y) * 100) / 100 : null;
}

export const showRatio = (x: number | null) => (x === null ? '—' : `${x}`);

export function machine() {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** A figure for a table: whole above 100 (and for counts), else two or three significant digits. */
export function fmt(x: number | undefined | null): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '—';
  if (Number.isInteger(x) || x >= 100) return x.toFixed(0);
  return x < 10 ? x.toFixed(2) : x.toFixed(1);
}

const COLUMNS = ['sent', 'heard/s', 'lost', 'dup', 'p50', 'p90', 'p99', 'max', 'lag p50', 'lag p99'];

/**
 * Load `i` of every fleet, one row each: counts, corrected latency (ms), and the generator's lag
 * behind its schedule (ms, part of that latency), then a warning for a fleet whose generator fell behind.
 */
export function loadTable(load: Load, i: number, reports: Record<string, FleetReport>, names: Record<string, string>) {
  const lines = [
    `load: ${describeLoad({ rate: load.rate, window: load.rate === 'max' ? load.window : null })} for ${load.durationMs / 1000} s; latency ms, creation → PCM ready (raw: received), corrected; generator lag ms`,
    `${'fleet'.padEnd(32)} ${COLUMNS.map((h) => h.padStart(8)).join('')}`,
  ];
  const warnings: string[] = [];
  for (const [k, r] of Object.entries(reports)) {
    const l: LoadReport = r.loads[i]!;
    const c = l.latency.corrected;
    const lag = l.generatorLag;
    const row = [l.sent, l.heardPerSecond, l.lost, l.duplicates, c.p50, c.p90, c.p99, c.max, lag?.p50, lag?.p99];
    lines.push(`${names[k]!.padEnd(32)} ${row.map((x) => fmt(x).padStart(8)).join('')}`);
    const warning = lagWarning(l);
    if (warning) warnings.push(`  WARNING ${names[k]}: ${warning}`);
  }
  return [...lines, ...warnings];
}

/** The warm-up of each fleet, a line each: what it sent and whether the fleet had gone quiet first. */
export function warmupLines(reports: Record<string, FleetReport>, names: Record<string, string>): string[] {
  return Object.entries(reports)
    .filter(([, r]) => r.warmup)
    .map(([k, r]) => {
      const w = r.warmup!;
      const settled = w.quiet ? `quiet after ${w.settleS} s` : `not quiet after ${w.settleS} s`;
      return `warm-up ${names[k]}: ${w.sent} payments, ${w.heard} heard, not counted; ${settled}`;
    });
}

/**
 * The end of a fleet run: figures as a JSON-able object (`--json`), and as a table for people.
 * Everything a reader needs to judge the figures is in it: the load asked for and achieved, what
 * was lost or heard twice, latency with and without the coordinated-omission correction, and
 * memory per device.
 */
import os from 'node:os';
import { percentileCurve, summarizeHistogram, type LatencySummary } from './histogram.ts';
import type { ProcessSample, WorkerCounters } from './messages.ts';
import type { PoolMemory } from './pool.ts';
import type { Load } from './generator.ts';
import type { FleetOptions } from './options.ts';
import type { Tally } from './tally.ts';
import type { ScenarioReport } from './scenario-report.ts';
import type { WarmupReport } from './warmup.ts';
import { formatStorm, withStorm, type StormReport } from './storm-report.ts';

/** What one load of a run produced. */
export interface LoadResult {
  load: Load;
  tally: Tally;
  sendMs: number;
  drainedMs: number;
  /** Payments first heard while the load was being offered (not in the drain after it). */
  heardWhileSending: number;
  publishErrors: number;
}

export interface ReportInput {
  opts: FleetOptions;
  workers: number;
  brokerUrl: string;
  connectMs: number;
  loads: LoadResult[];
  /** A scenario's phases, groups and checks; null for plain loads. */
  scenario: ScenarioReport | null;
  /** `--reconnect-storm`: the storm's section (storm-report.ts). */
  storm?: StormReport | null;
  /** What was done between connecting and the first load (warmup.ts); null: nothing. */
  warmup?: WarmupReport | null;
  /** Where CPU per payment counts from (after the warm-up); null: from all connected. */
  cpuFrom?: { workers: ProcessSample[]; broker: ProcessSample | null } | null;
  startedAt: Date;
  counters: WorkerCounters;
  /** CPU time the coordinator (generator, tally) used over the loads. */
  generatorCpuMs: number;
  memory: {
    workers: PoolMemory;
    broker: { booted: ProcessSample; connected: ProcessSample; end: ProcessSample } | null;
  };
}

type Curve = { percentile: number; ms: number }[];

export interface LoadReport {
  rate: number | 'max';
  /** The scenario's name when the load is a scenario's phases (rate is then their peak). */
  scenario: string | null;
  window: number | null;
  durationS: number;
  sent: number;
  /** Published per second over the sending phase. */
  sentPerSecond: number;
  heard: number;
  /** Payments first heard per second while the load was offered: the delivered rate (at max: the capacity). */
  heardPerSecond: number;
  /** Of `heard`, how many were heard in a burst or offline summary. */
  summarized: number;
  /** Sent and never heard, by the end of the drain (rejected payments included). */
  lost: number;
  duplicates: number;
  unknown: number;
  publishErrors: number;
  drainedS: number;
  /**
   * How far behind its schedule the generator published (published - intended), ms; null at
   * max rate, which has no schedule. Every corrected latency includes it (tally.ts).
   */
  generatorLag: { p50: number; p99: number; max: number } | null;
  /** Milliseconds, creation → PCM ready (raw mode: → message received). */
  latency: { corrected: LatencySummary; uncorrected: LatencySummary };
  curve: { corrected: Curve; uncorrected: Curve };
}

export interface FleetReport {
  run: {
    mode: FleetOptions['mode'];
    devices: number;
    workers: number;
    broker: string;
    lang: string;
    signed: boolean;
    seed: number;
    /** ISO 8601, when the run started. */
    startedAt: string;
  };
  machine: { node: string; cpus: number; cpu: string; memoryGB: number; loadavg: number[] };
  connect: { devices: number; seconds: number };
  /** Settling and the warm-up before the first load, heard and counted in no figure; null: none. */
  warmup: WarmupReport | null;
  loads: LoadReport[];
  /** Over the whole run, from the devices. */
  devices: {
    rejected: number;
    /** Redeliveries the speakers recognised (acked `duplicate`, not heard again). */
    redelivered: number;
    /** Payments from an earlier run left in the devices' sessions, ignored. */
    stray: number;
    rejectionReasons: string[];
  };
  memory: {
    /** KB per device: growth of the workers' RSS and of heap + external, from no devices to all connected (after a GC), and at the end of the run. */
    perDeviceKB: { rssConnected: number; heapConnected: number; rssEnd: number; heapEnd: number };
    workersRssMB: number;
    /** KB per connection in the embedded broker, the same way; null for an external broker. */
    brokerPerConnectionKB: { rssConnected: number; heapConnected: number } | null;
  };
  /**
   * CPU milliseconds per payment heard, over all loads (drains included): where the machine's
   * cores went. Workers: the devices' whole pipeline; broker: the embedded one (null otherwise).
   */
  cpuMsPerPayment: { workers: number; broker: number | null; generator: number };
  scenario: ScenarioReport | null;
  storm: StormReport | null;
  /** Nothing lost, nothing heard twice, in every load (a scenario: every check of its `expect`). */
  ok: boolean;
  /** Why ok is what it is, in a sentence: the first thing that failed, or what passed. */
  verdict: Verdict;
}

export interface Verdict {
  ok: boolean;
  /** What failed first decides the exit code: lost (4), heard twice (1), a scenario check (1). */
  failed: 'lost' | 'duplicates' | 'check' | null;
  reason: string;
}

/** The run's pass/fail and its reason: for the table's last line, the HTML banner and the exit code. */
export function verdictOf(loads: LoadReport[], scenario: ScenarioReport | null): Verdict {
  if (scenario) {
    const bad = scenario.checks.find((c) => !c.ok);
    if (!bad)
      return { ok: true, failed: null, reason: `every check passed: ${scenario.checks.map((c) => c.name).join(', ')}` };
    const failed = bad.name === 'lost' ? 'lost' : bad.name === 'heard twice' ? 'duplicates' : 'check';
    return { ok: false, failed, reason: `${bad.name}: ${bad.detail}` };
  }
  const sent = loads.reduce((a, l) => a + l.sent, 0);
  const lost = loads.reduce((a, l) => a + l.lost, 0);
  const dup = loads.reduce((a, l) => a + l.duplicates, 0);
  if (lost > 0) return { ok: false, failed: 'lost', reason: `${lost} of ${sent} payments were not heard` };
  if (dup > 0) return { ok: false, failed: 'duplicates', reason: `${dup} payments were heard twice` };
  return { ok: true, failed: null, reason: `every payment was heard exactly once (${sent} sent)` };
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const heap = (m: ProcessSample) => m.heapUsed + m.external;
const cpu = (m: ProcessSample) => m.cpuMs;
const sum = (xs: ProcessSample[], f: (m: ProcessSample) => number) => xs.reduce((a, m) => a + f(m), 0);

function perDeviceKB(
  from: ProcessSample[],
  to: ProcessSample[],
  f: (m: ProcessSample) => number,
  devices: number,
): number {
  return round((sum(to, f) - sum(from, f)) / 1024 / devices);
}

function loadReport(r: LoadResult): LoadReport {
  const { tally: t, load } = r;
  return {
    rate: load.rate,
    scenario: load.name ?? null,
    window: load.rate === 'max' ? load.window : null,
    durationS: load.durationMs / 1000,
    sent: t.sent,
    sentPerSecond: Math.round(t.sent / (r.sendMs / 1000)),
    heard: t.heard,
    heardPerSecond: Math.round(r.heardWhileSending / (r.sendMs / 1000)),
    summarized: t.summarized,
    lost: t.sent - t.heard,
    duplicates: t.duplicates,
    unknown: t.unknown,
    publishErrors: r.publishErrors,
    drainedS: round(r.drainedMs / 1000, 2),
    generatorLag: load.rate === 'max' ? null : lagSummary(t),
    latency: { corrected: summarizeHistogram(t.corrected), uncorrected: summarizeHistogram(t.uncorrected) },
    curve: { corrected: percentileCurve(t.corrected), uncorrected: percentileCurve(t.uncorrected) },
  };
}

function lagSummary(t: Tally): LoadReport['generatorLag'] {
  const { p50, p99, max } = summarizeHistogram(t.lag);
  return { p50, p99, max };
}

/** A generator lag above this (p99, ms) is worth a warning: it is in every latency figure of the load. */
export const LAG_WARN_MS = 5;

/** The warning for a load whose generator fell behind its schedule; null when it kept up. */
export function lagWarning(l: Pick<LoadReport, 'generatorLag'>): string | null {
  const lag = l.generatorLag;
  if (!lag || !(lag.p99 > LAG_WARN_MS)) return null;
  return `the generator fell behind its schedule (p99 ${f2(lag.p99)} ms, max ${f2(lag.max)} ms): the latencies include it; the coordinator's core was busy`;
}

export function buildReport(r: ReportInput): FleetReport {
  const { opts, counters } = r;
  const w = r.memory.workers;
  const cpus = os.cpus();
  const b = r.memory.broker;
  const loads = r.loads.map(loadReport);
  const heard = loads.reduce((a, l) => a + l.heard, 0);
  const perPayment = (ms: number) => (heard ? round(ms / heard, 3) : NaN);
  const endComplete = w.end.filter(Boolean).length === r.workers;
  const verdict = withStorm(verdictOf(loads, r.scenario), r.storm ?? null);
  return {
    run: {
      mode: opts.mode,
      devices: opts.devices,
      workers: r.workers,
      broker: r.brokerUrl,
      lang: opts.lang,
      signed: opts.signed && opts.mode === 'speakers',
      seed: opts.seed,
      startedAt: r.startedAt.toISOString(),
    },
    machine: {
      node: process.version,
      cpus: cpus.length,
      cpu: cpus[0]?.model ?? 'unknown',
      memoryGB: round(os.totalmem() / 1024 ** 3),
      loadavg: os.loadavg().map((x) => round(x, 2)),
    },
    connect: { devices: opts.devices, seconds: round(r.connectMs / 1000, 2) },
    warmup: r.warmup ?? null,
    loads,
    devices: {
      rejected: counters.rejected,
      redelivered: counters.redelivered,
      stray: counters.stray,
      rejectionReasons: counters.reasons,
    },
    memory: {
      perDeviceKB: {
        rssConnected: perDeviceKB(w.booted, w.connected, (m) => m.rss, opts.devices),
        heapConnected: perDeviceKB(w.booted, w.connected, heap, opts.devices),
        // A worker that missed the stop window sent no end sample: no figure rather than a wrong one.
        rssEnd: endComplete ? perDeviceKB(w.booted, w.end, (m) => m.rss, opts.devices) : NaN,
        heapEnd: endComplete ? perDeviceKB(w.booted, w.end, heap, opts.devices) : NaN,
      },
      workersRssMB: round(sum(w.end.length ? w.end : w.connected, (m) => m.rss) / 1024 / 1024),
      brokerPerConnectionKB: b
        ? {
            rssConnected: perDeviceKB([b.booted], [b.connected], (m) => m.rss, opts.devices),
            heapConnected: perDeviceKB([b.booted], [b.connected], heap, opts.devices),
          }
        : null,
    },
    cpuMsPerPayment: {
      workers: endComplete ? perPayment(sum(w.end, cpu) - sum(r.cpuFrom?.workers ?? w.connected, cpu)) : NaN,
      broker: b ? perPayment(b.end.cpuMs - (r.cpuFrom?.broker ?? b.connected).cpuMs) : null,
      generator: perPayment(r.generatorCpuMs),
    },
    scenario: r.scenario,
    storm: r.storm ?? null,
    ok: verdict.ok,
    verdict,
  };
}

/** The report without the percentile curves: what `--json` prints. */
export function withoutCurves(r: FleetReport): Omit<FleetReport, 'loads'> & { loads: Omit<LoadReport, 'curve'>[] } {
  return { ...r, loads: r.loads.map(({ curve: _curve, ...rest }) => rest) };
}

const f2 = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)) : '—');

function cpuLine(c: FleetReport['cpuMsPerPayment']): string {
  const parts = [
    `workers ${f2(c.workers)} ms`,
    ...(c.broker === null ? [] : [`broker ${f2(c.broker)} ms`]),
    `generator ${f2(c.generator)} ms`,
  ];
  return parts.join(', ');
}

export function describeLoad(l: Pick<LoadReport, 'rate' | 'window'> & { scenario?: string | null }): string {
  if (l.scenario) return `scenario ${l.scenario} (peak ${l.rate}/s)`;
  return l.rate === 'max' ? `max rate (window ${l.window})` : `${l.rate}/s`;
}

function warmupLine(w: WarmupReport): string {
  const settled = w.quiet
    ? `quiet after ${w.settleS} s`
    : w.busiest === null
      ? `waited ${w.settleS} s`
      : `not quiet after ${w.settleS} s (a process at ${Math.round(w.busiest * 100)} % of a core)`;
  return `${w.sent} payments at ${describeLoad(w)} for ${w.durationS} s, ${w.heard} heard, not counted; ${settled}`;
}

/** The report as a table for a terminal. */
export function formatReport(r: FleetReport): string {
  const { run, memory: m, devices: d } = r;
  const what =
    run.mode === 'raw'
      ? 'raw MQTT clients (no device pipeline)'
      : `speakers, ${run.lang}, ${run.signed ? 'signed' : 'unsigned'}`;
  const lat = (name: string, s: LatencySummary) =>
    `  ${name.padEnd(30)} ${[s.p50, s.p90, s.p99, s.p999, s.max].map((x) => f2(x).padStart(8)).join('')}`;
  const lines = [
    `payspeaker fleet: ${run.devices} ${what}; ${run.workers} worker processes; broker ${run.broker}`,
    `${r.run.startedAt}; Node ${r.machine.node}, ${r.machine.cpus} CPUs (${r.machine.cpu}), ${r.machine.memoryGB} GB, load average ${r.machine.loadavg.join(' ')}`,
    '',
    `connected + subscribed   ${run.devices} in ${r.connect.seconds} s`,
    ...(r.warmup ? [`warm-up                  ${warmupLine(r.warmup)}`] : []),
  ];
  for (const l of r.loads) {
    lines.push(
      '',
      `load: ${describeLoad(l)} for ${l.durationS} s`,
      `  sent                   ${l.sent} (${l.sentPerSecond}/s)${l.publishErrors ? `, ${l.publishErrors} publish errors` : ''}`,
      `  heard                  ${l.heard} (${l.heardPerSecond}/s while sending)${l.summarized ? `, ${l.summarized} of them in summaries` : ''}`,
      `  lost                   ${l.lost}`,
      `  duplicates             ${l.duplicates}`,
      `  latency, ms, creation → ${run.mode === 'raw' ? 'received ' : 'PCM ready'}     p50     p90     p99   p99.9     max`,
      lat('corrected (from schedule)', l.latency.corrected),
      lat('uncorrected (from publish)', l.latency.uncorrected),
      ...(l.generatorLag
        ? [
            `  generator lag          p50 ${f2(l.generatorLag.p50)} ms, p99 ${f2(l.generatorLag.p99)} ms, max ${f2(l.generatorLag.max)} ms behind its schedule`,
          ]
        : []),
      ...[lagWarning(l)].filter((w) => w !== null).map((w) => `  WARNING: ${w}`),
    );
  }
  lines.push(
    '',
    ...(d.rejected ? [`rejected by speakers     ${d.rejected} (${d.rejectionReasons[0]})`] : []),
    ...(d.redelivered
      ? [`redeliveries             ${d.redelivered} recognised by the speakers and not announced again`]
      : []),
    ...(d.stray ? [`stray                    ${d.stray} payments from an earlier run, ignored`] : []),
    `memory per device        ${m.perDeviceKB.rssConnected} KB RSS, ${m.perDeviceKB.heapConnected} KB heap connected; ${Number.isFinite(m.perDeviceKB.rssEnd) ? `${m.perDeviceKB.rssEnd} KB RSS, ${m.perDeviceKB.heapEnd} KB heap at the end` : 'not sampled at the end (a worker missed the stop window)'}`,
    ...(m.brokerPerConnectionKB
      ? [
          `broker per connection    ${m.brokerPerConnectionKB.rssConnected} KB RSS, ${m.brokerPerConnectionKB.heapConnected} KB heap`,
        ]
      : []),
    `CPU per payment          ${cpuLine(r.cpuMsPerPayment)}`,
    ...(r.storm ? ['', ...formatStorm(r.storm)] : []),
    ...(r.scenario ? ['', ...formatScenario(r.scenario)] : []),
    '',
    r.ok ? `ok: ${r.verdict.reason}` : `NOT OK: ${r.verdict.reason}`,
  );
  return lines.join('\n');
}

function formatScenario(s: ScenarioReport): string[] {
  const rate = (p: ScenarioReport['phases'][number]) =>
    p.fromRate === p.toRate ? `${p.toRate}/s` : `${p.fromRate}→${p.toRate}/s`;
  return [
    `scenario ${s.name} (${s.file})`,
    ...s.phases.map(
      (p) =>
        `  phase ${p.name.padEnd(16)} ${rate(p).padEnd(10)} ${String(p.durationS).padStart(5)} s  sent ${p.sent}, heard ${p.heard}, ${p.heardPerSecondAtEnd}/s heard at its end (${p.askedPerSecondAtEnd}/s asked), p50 ${f2(p.latency.p50)} ms, p99 ${f2(p.latency.p99)} ms`,
    ),
    ...s.groups.map((g) => {
      const when = g.atS === null ? 'throughout' : `at ${g.atS} s${g.forS === null ? '' : ` for ${g.forS} s`}`;
      const faults = Object.entries(g.faults)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      const away = g.whileAway ? `; ${g.whileAway.heard} of ${g.whileAway.sent} due while away heard` : '';
      return `  ${g.kind.padEnd(8)} ${g.devices} speakers ${when}: ${faults || 'no faults'}; sent ${g.sent}, heard ${g.heard}${away}`;
    }),
    ...(Object.keys(s.buttons.pressed).length
      ? [
          `  buttons  ${Object.entries(s.buttons.pressed)
            .map(([b, n]) => `${n} ${b}`)
            .join(', ')} pressed; ${s.buttons.answered} answered`,
        ]
      : []),
    ...s.checks.map((c) => `  ${c.ok ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`),
  ];
}

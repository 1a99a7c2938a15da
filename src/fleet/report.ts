/**
 * The end of a fleet run: figures as a JSON-able object (`--json`), and as a table for people.
 * Everything a reader needs to judge the figures is in it: the load asked for and achieved, what
 * was lost or heard twice, latency with and without the coordinated-omission correction, and
 * memory per device.
 */
import os from 'node:os';
import { percentileCurve, summarizeHistogram, type LatencySummary } from './histogram.ts';
import type { MemorySample, WorkerCounters } from './messages.ts';
import type { PoolMemory } from './pool.ts';
import type { FleetOptions } from './run.ts';
import type { Tally } from './tally.ts';

export interface ReportInput {
  opts: FleetOptions;
  workers: number;
  brokerUrl: string;
  connectMs: number;
  sendMs: number;
  drainedMs: number;
  /** From the generator's start to the last payment heard. */
  heardSpanMs: number;
  tally: Tally;
  counters: WorkerCounters;
  publishErrors: number;
  memory: { workers: PoolMemory; broker: { booted: MemorySample; connected: MemorySample; end: MemorySample } | null };
}

export interface FleetReport {
  run: {
    mode: FleetOptions['mode'];
    devices: number;
    workers: number;
    broker: string;
    lang: string;
    signed: boolean;
    rate: number | 'max';
    window: number | null;
    durationS: number;
    seed: number;
  };
  machine: { node: string; cpus: number; cpu: string; loadavg: number[] };
  connect: { devices: number; seconds: number };
  payments: {
    sent: number;
    /** Published per second over the sending phase. */
    sentPerSecond: number;
    /** First hearings per second, from the first payment to the last one heard. */
    heardPerSecond: number;
    heard: number;
    /** Of `heard`, how many were heard in a burst or offline summary. */
    summarized: number;
    lost: number;
    duplicates: number;
    rejected: number;
    /** Redeliveries the speakers recognised (acked `duplicate`, not heard again). */
    redelivered: number;
    stray: number;
    unknown: number;
    publishErrors: number;
    rejectionReasons: string[];
    drainedS: number;
  };
  /** Milliseconds, creation → PCM ready (raw mode: → message received). */
  latency: { corrected: LatencySummary; uncorrected: LatencySummary };
  memory: {
    /** KB per device: growth of the workers' RSS and of heap + external, from no devices to all connected (after a GC), and at the end of the run. */
    perDeviceKB: { rssConnected: number; heapConnected: number; rssEnd: number; heapEnd: number };
    workersRssMB: number;
    /** KB per connection in the embedded broker, the same way; null for an external broker. */
    brokerPerConnectionKB: { rssConnected: number; heapConnected: number } | null;
  };
  curve: { corrected: { percentile: number; ms: number }[]; uncorrected: { percentile: number; ms: number }[] };
  /** Nothing lost, nothing heard twice. */
  ok: boolean;
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const heap = (m: MemorySample) => m.heapUsed + m.external;
const sum = (xs: MemorySample[], f: (m: MemorySample) => number) => xs.reduce((a, m) => a + f(m), 0);

function perDeviceKB(from: MemorySample[], to: MemorySample[], f: (m: MemorySample) => number, devices: number): number {
  return round((sum(to, f) - sum(from, f)) / 1024 / devices);
}

export function buildReport(r: ReportInput): FleetReport {
  const { opts, tally, counters } = r;
  const w = r.memory.workers;
  const lost = tally.sent - tally.heard;
  const cpus = os.cpus();
  const b = r.memory.broker;
  return {
    run: {
      mode: opts.mode,
      devices: opts.devices,
      workers: r.workers,
      broker: r.brokerUrl,
      lang: opts.lang,
      signed: opts.signed && opts.mode === 'speakers',
      rate: opts.rate,
      window: opts.rate === 'max' ? opts.window : null,
      durationS: opts.durationMs / 1000,
      seed: opts.seed,
    },
    machine: { node: process.version, cpus: cpus.length, cpu: cpus[0]?.model ?? 'unknown', loadavg: os.loadavg().map((x) => round(x, 2)) },
    connect: { devices: opts.devices, seconds: round(r.connectMs / 1000, 2) },
    payments: {
      sent: tally.sent,
      sentPerSecond: Math.round(tally.sent / (r.sendMs / 1000)),
      heardPerSecond: tally.heard ? Math.round(tally.heard / (r.heardSpanMs / 1000)) : 0,
      heard: tally.heard,
      summarized: tally.summarized,
      lost,
      duplicates: tally.duplicates,
      rejected: counters.rejected,
      redelivered: counters.redelivered,
      stray: counters.stray,
      unknown: tally.unknown,
      publishErrors: r.publishErrors,
      rejectionReasons: counters.reasons,
      drainedS: round(r.drainedMs / 1000, 2),
    },
    latency: { corrected: summarizeHistogram(tally.corrected), uncorrected: summarizeHistogram(tally.uncorrected) },
    memory: {
      perDeviceKB: {
        rssConnected: perDeviceKB(w.booted, w.connected, (m) => m.rss, opts.devices),
        heapConnected: perDeviceKB(w.booted, w.connected, heap, opts.devices),
        rssEnd: perDeviceKB(w.booted, w.end, (m) => m.rss, opts.devices),
        heapEnd: perDeviceKB(w.booted, w.end, heap, opts.devices),
      },
      workersRssMB: round(sum(w.end.length ? w.end : w.connected, (m) => m.rss) / 1024 / 1024),
      brokerPerConnectionKB: b
        ? { rssConnected: perDeviceKB([b.booted], [b.connected], (m) => m.rss, opts.devices), heapConnected: perDeviceKB([b.booted], [b.connected], heap, opts.devices) }
        : null,
    },
    curve: { corrected: percentileCurve(tally.corrected), uncorrected: percentileCurve(tally.uncorrected) },
    ok: lost === 0 && tally.duplicates === 0,
  };
}

const f2 = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)) : '—');

/** The report as a table for a terminal. */
export function formatReport(r: FleetReport): string {
  const { run, payments: p, latency, memory: m } = r;
  const rate = run.rate === 'max' ? `as fast as delivered (window ${run.window})` : `${run.rate}/s`;
  const what = run.mode === 'raw' ? 'raw MQTT clients (no device pipeline)' : `speakers, ${run.lang}, ${run.signed ? 'signed' : 'unsigned'}`;
  const lat = (name: string, s: LatencySummary) =>
    `  ${name.padEnd(30)} ${[s.p50, s.p90, s.p99, s.p999, s.max].map((x) => f2(x).padStart(8)).join('')}`;
  const lines = [
    `payspeaker fleet: ${run.devices} ${what}; ${run.workers} worker processes; broker ${run.broker}`,
    `load: ${rate} for ${run.durationS} s; Node ${r.machine.node}, ${r.machine.cpus} CPUs, load average ${r.machine.loadavg.join(' ')}`,
    '',
    `connected + subscribed   ${run.devices} in ${r.connect.seconds} s`,
    `sent                     ${p.sent} (${p.sentPerSecond}/s)${p.publishErrors ? `, ${p.publishErrors} publish errors` : ''}`,
    `heard                    ${p.heard} (${p.heardPerSecond}/s)${p.summarized ? `, ${p.summarized} of them in summaries` : ''}`,
    `lost                     ${p.lost}${p.rejected ? ` (${p.rejected} rejected: ${p.rejectionReasons[0]})` : ''}`,
    `duplicates               ${p.duplicates}${p.redelivered ? ` (${p.redelivered} redeliveries recognised and not announced)` : ''}`,
    ...(p.stray ? [`stray                    ${p.stray} payments from an earlier run, ignored`] : []),
    '',
    `latency, ms, creation → ${run.mode === 'raw' ? 'received' : 'PCM ready'}      p50     p90     p99   p99.9     max`,
    lat('corrected (from schedule)', latency.corrected),
    lat('uncorrected (from publish)', latency.uncorrected),
    '',
    `memory per device        ${m.perDeviceKB.rssConnected} KB RSS, ${m.perDeviceKB.heapConnected} KB heap connected; ${m.perDeviceKB.rssEnd} KB RSS, ${m.perDeviceKB.heapEnd} KB heap at the end`,
    ...(m.brokerPerConnectionKB ? [`broker per connection    ${m.brokerPerConnectionKB.rssConnected} KB RSS, ${m.brokerPerConnectionKB.heapConnected} KB heap`] : []),
    '',
    r.ok ? 'ok: every payment was heard exactly once' : `NOT OK: ${p.lost} lost, ${p.duplicates} duplicates`,
  ];
  return lines.join('\n');
}

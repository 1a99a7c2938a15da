/**
 * The report's reconnect-storm section (storm.ts): how many links were cut, how long each device
 * took to be online again and how long until the last one was, and whether every payment due
 * from the storm on was heard exactly once. Its verdict joins the run's: a device that never came
 * back fails the run even if no payment happened to be due for it.
 */
import { Backoff } from '../../device/backoff.ts';
import type { WorkerMode } from './messages.ts';
import type { Tally } from './tally.ts';

export interface StormReport {
  /** Seconds into the first load when the storm struck. */
  atS: number;
  /** Links cut (the devices online at that moment), and how many were online again by the report. */
  dropped: number;
  back: number;
  stillOffline: number;
  /** Milliseconds between the first and the last worker cutting its links. */
  strikeSpreadMs: number;
  /** Per device, from its link being cut to it being online again (s); null when none came back. */
  reconnectS: { p50: number; p99: number; max: number } | null;
  /** From the storm until the last device was back (s); null while some are still offline. */
  allBackS: number | null;
  /** What decided how fast they came back. */
  reconnectPolicy: string;
  /** How long the run waited for the last device before going on. */
  waitedS: number;
  /** Payments due from the storm on (to the end of the load). */
  payments: { sent: number; heard: number; lost: number; duplicates: number; latencyMs: Percentiles | null };
  /** Of those, the ones due while some device was still reconnecting. */
  whileReconnecting: { sent: number; heard: number };
}

type Percentiles = { p50: number; p99: number; max: number };

export interface StormInput {
  loadStart: number;
  /** Per worker: links cut and when (epoch ms). */
  struck: { dropped: number; at: number }[];
  /** Per worker, per cut device: ms until back online (NaN: not back). */
  reconnectMs: Float64Array[];
  tally: Tally;
  mode: WorkerMode;
  /** How long the run waited for the stragglers, for the verdict's sentence. */
  waitedS: number;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentiles of sorted values. */
function percentiles(sorted: number[], digits: number): Percentiles | null {
  if (sorted.length === 0) return null;
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: round(at(50), digits), p99: round(at(99), digits), max: round(sorted[sorted.length - 1]!, digits) };
}

function policy(mode: WorkerMode): string {
  if (mode === 'raw') return 'MQTT.js reconnectPeriod: every 1 s, no jitter (raw clients)';
  const b = new Backoff();
  return `the firmware's backoff (device/backoff.ts): first retry after ${b.floorMs / 1000}-${b.ceilingMs() / 1000} s, the window doubling to 60 s, full jitter`;
}

export function stormReport(i: StormInput): StormReport {
  const firstAt = Math.min(...i.struck.map((s) => s.at));
  const dropped = i.struck.reduce((a, s) => a + s.dropped, 0);
  const times: number[] = [];
  let lastBackAt = firstAt;
  i.reconnectMs.forEach((list, w) => {
    for (const ms of list) {
      if (Number.isNaN(ms)) continue;
      times.push(ms);
      lastBackAt = Math.max(lastBackAt, i.struck[w]!.at + ms);
    }
  });
  times.sort((a, b) => a - b);
  const stillOffline = dropped - times.length;
  const allBackAt = stillOffline === 0 ? lastBackAt : NaN;

  // Payments due from the storm on, and those due before the last device was back.
  const latency: number[] = [];
  const payments = { sent: 0, heard: 0, lost: 0, duplicates: 0 };
  const during = { sent: 0, heard: 0 };
  for (let seq = 0; seq < i.tally.sent; seq++) {
    const e = i.tally.entry(seq);
    if (e.intended < firstAt) continue;
    payments.sent += 1;
    if (e.times === 0) payments.lost += 1;
    else {
      payments.heard += 1;
      latency.push(e.firstHeard - e.intended);
    }
    if (e.times > 1) payments.duplicates += e.times - 1;
    if (Number.isNaN(allBackAt) || e.intended < allBackAt) {
      during.sent += 1;
      if (e.times > 0) during.heard += 1;
    }
  }
  latency.sort((a, b) => a - b);
  const toS = percentiles(times, 0);
  return {
    atS: round((firstAt - i.loadStart) / 1000, 2),
    dropped,
    back: times.length,
    stillOffline,
    strikeSpreadMs: round(Math.max(...i.struck.map((s) => s.at)) - firstAt, 2),
    reconnectS: toS && { p50: round(toS.p50 / 1000, 3), p99: round(toS.p99 / 1000, 3), max: round(toS.max / 1000, 3) },
    allBackS: Number.isNaN(allBackAt) ? null : round((allBackAt - firstAt) / 1000, 3),
    reconnectPolicy: policy(i.mode),
    waitedS: i.waitedS,
    payments: { ...payments, latencyMs: percentiles(latency, 2) },
    whileReconnecting: during,
  };
}

/** The run's verdict with the storm's: lost and duplicated payments are already in the loads; add the devices that never returned. */
export function withStorm<V extends { ok: boolean; failed: string | null; reason: string }>(
  v: V,
  storm: StormReport | null,
): V | { ok: false; failed: 'check'; reason: string } {
  if (!storm || !v.ok || storm.stillOffline === 0) return v;
  return {
    ok: false,
    failed: 'check',
    reason: `${storm.stillOffline} of ${storm.dropped} devices were not back online after the reconnect storm (waited ${storm.waitedS} s for them)`,
  };
}

const s3 = (x: number) => x.toFixed(x < 10 ? 2 : 1);
const ms = (x: number) => x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0);

/** The storm's lines for the text table. */
export function formatStorm(s: StormReport): string[] {
  const p = s.payments;
  const lat = p.latencyMs
    ? `; latency p50 ${ms(p.latencyMs.p50)} ms, p99 ${ms(p.latencyMs.p99)} ms, max ${ms(p.latencyMs.max)} ms`
    : '';
  return [
    `reconnect storm          at ${s.atS} s into the load: ${s.dropped} links cut at once (within ${s.strikeSpreadMs} ms)`,
    `  back online            ${s.back} of ${s.dropped}${s.allBackS === null ? `, ${s.stillOffline} still offline` : `; the last ${s3(s.allBackS)} s after the storm`}`,
    ...(s.reconnectS
      ? [
          `  reconnect time, s      p50 ${s3(s.reconnectS.p50)}  p99 ${s3(s.reconnectS.p99)}  max ${s3(s.reconnectS.max)}`,
        ]
      : []),
    `  paced by               ${s.reconnectPolicy}`,
    `  payments from then on  ${p.sent} sent, ${p.heard} heard, ${p.lost} lost, ${p.duplicates} duplicates${lat}`,
    `  while reconnecting     ${s.whileReconnecting.sent} sent, ${s.whileReconnecting.heard} heard`,
  ];
}

/**
 * The chaos run: real processes, real faults, and an audit of what the speakers actually said.
 *
 *   payments ──HTTP──▶ broker process (outbox) ──MQTT──▶ fault proxy ──▶ N speaker processes ──▶ WAV files
 *
 * While payments flow at a fixed rate through the API, the proxy resets (and drops) connections at random
 * (seeded), the broker is killed with SIGKILL and restarted once, and one speaker is killed and
 * restarted once. The generator behaves like a real backend: when the API is down it retries
 * the same request with the same idempotency key. At the end every payment must have a final
 * status, and the speakers' audio output (one WAV per announcement, named after the payment)
 * must hold each payment exactly once.
 *
 * Each speaker announces every payment on its own (burst summaries off, stale-after long): so
 * that every payment has its own announcement to count. Summaries have their own tests.
 *
 * This file holds the run's orchestration (phases, progress, the report put together); its parts
 * are next to it: scenario-rig.ts (processes, proxy, kills), scenario-payments.ts (sending and
 * draining), scenario-report.ts (statuses, unplayed payments, the verdict), audit.ts (the WAVs),
 * scenario-types.ts (options, progress, report).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setUp, tearDown, totalFaults, wavDir, type Rig } from './scenario-rig.ts';
import { drain, generate } from './scenario-payments.ts';
import { countStatuses, explainUnplayed, isClean } from './scenario-report.ts';
import { auditAnnouncements } from './audit.ts';
import type { ChaosOptions, ChaosProgress, ChaosReport } from './scenario-types.ts';

// The run's shapes, as scenario.ts exported them before it was split: bench/chaos.ts imports from here.
export type { ChaosOptions, ChaosProgress, ChaosReport, UnplayedCause, UnplayedExample } from './scenario-types.ts';
export { CHAOS_DEFAULTS } from './scenario-types.ts';

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const temp = opts.dataDir === undefined;
  const dir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-chaos-'));
  const progress: ChaosProgress = {
    phase: 'starting',
    accepted: 0,
    final: 0,
    payments: opts.payments,
    faults: 0,
    brokerKills: 0,
    deviceKills: 0,
  };
  const tell = () => opts.onProgress?.({ ...progress, faults: rig ? totalFaults(rig.proxy) : 0 });
  let rig: Rig | null = null;
  try {
    rig = await setUp(dir, opts);
    progress.phase = 'paying';
    const ticker = setInterval(tell, 1000);
    try {
      const paid = await generate(rig, opts, progress);
      progress.phase = 'draining';
      const statuses = await drain(rig, paid.ids, opts.drainMs, progress);
      const lastFinal = Date.now();
      progress.phase = 'auditing';
      tell();
      const audio = auditAnnouncements(
        rig.deviceIds.map((id) => wavDir(dir, id)),
        paid.ids,
        statuses,
      );
      const counts = countStatuses(statuses);
      const unplayed = await explainUnplayed(rig.api, statuses);
      const report: ChaosReport = {
        payments: opts.payments,
        devices: opts.devices,
        seed: opts.seed,
        statuses: counts,
        audio,
        faults: {
          injected: rig.proxy.stats().faults,
          brokerKills: progress.brokerKills,
          deviceKills: progress.deviceKills,
          apiRetries: paid.retries,
        },
        durationMs: Date.now() - started,
        acceptedPerSecond: round(opts.payments / ((paid.endedAt - paid.startedAt) / 1000)),
        finalPerSecond: round(opts.payments / ((lastFinal - paid.startedAt) / 1000)),
        ok: false,
        unplayed,
      };
      report.ok = isClean(report);
      return report;
    } finally {
      clearInterval(ticker);
    }
  } finally {
    if (rig) await tearDown(rig);
    if (temp) fs.rmSync(dir, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * The soak run (issue 12): the whole system for a long time at a steady load, watching memory.
 *
 *   payments ──HTTP──▶ `payspeaker broker` process ──MQTT──▶ fault proxy ──▶ speaker processes
 *   (20/s)               (outbox, API; heap via           (random resets,     (real firmware, N per
 *                         memory-probe.mjs)                drops, blackholes)  process; heap via IPC)
 *
 * Every `sampleMs` the broker's and the speaker processes' RSS and heap (after a full GC) are
 * sampled. After `warmupMs` the first sample is the baseline; at the end, a process group whose
 * RSS or heap grew beyond the bound fails the run, as does any payment not played exactly once.
 *
 * Reused: the chaos run's process wrapper, fault proxy and free ports (tools/chaos), the fleet's
 * forked entry points, ready sink and GC'd memory sample (tools/fleet), the API client.
 *
 * This file holds the run's orchestration (phases, progress, drain, last look at the statuses);
 * its parts are next to it: rig.ts (processes and proxy), speaker-process.ts (IPC with a speaker
 * process), sampler.ts (memory), payments.ts (the load), verdict.ts (report and growth maths),
 * types.ts (options, samples, report).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FINAL_STATUSES } from '../api/client.ts';
import { assertAlive, setUp, tearDown, type Rig } from './rig.ts';
import { startSampler } from './sampler.ts';
import { finalStatuses, pay } from './payments.ts';
import { buildReport } from './verdict.ts';
import type { MemorySample, SoakOptions, SoakProgress, SoakReport } from './types.ts';

// The run's parts, as run.ts exported them before it was split: bench/soak.ts imports from here.
export type { GrowthBound, GrowthCheck, MemorySample, SoakOptions, SoakProgress, SoakReport } from './types.ts';
export { SOAK_DEFAULTS, warmupFor } from './types.ts';
export { SoakRigError } from './rig.ts';
export { growthChecks } from './verdict.ts';

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const temp = opts.dataDir === undefined;
  const dir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-soak-'));
  const progress: SoakProgress = {
    phase: 'starting',
    elapsedMs: 0,
    accepted: 0,
    announced: 0,
    online: 0,
    devices: opts.devices,
    faults: 0,
    last: null,
  };
  const heard = new Map<string, number>();
  const summarized = new Set<string>();
  let rig: Rig | null = null;
  let startedAt = Date.now();
  const tell = () => {
    if (!rig) return opts.onProgress?.(progress);
    progress.elapsedMs = Date.now() - startedAt;
    progress.online = rig.workers.reduce((a, w) => a + w.counters.online, 0);
    progress.faults = Object.values(rig.proxy.stats().faults).reduce((a, b) => a + b, 0);
    opts.onProgress?.({ ...progress });
  };
  const onHeard = (m: { announced: string[]; summarized: string[] }) => {
    for (const id of m.announced) heard.set(id, (heard.get(id) ?? 0) + 1);
    for (const id of m.summarized) summarized.add(id);
    progress.announced += m.announced.length;
  };
  const ticker = setInterval(tell, 1000);
  try {
    rig = await setUp(dir, opts, onHeard, (p) => {
      progress.online = p;
      tell();
    });
    startedAt = Date.now();
    progress.phase = 'warm-up';
    const samples: MemorySample[] = [];
    const sampler = startSampler(rig, opts, startedAt, progress, (s) => {
      samples.push(s);
      progress.last = s;
      opts.onSample?.(s);
    });
    let paid: { ids: string[]; retries: number };
    try {
      paid = await pay(rig, opts, startedAt, progress);
      // A last sample at the end of the load, before the drain changes it.
      await sampler.now();
    } finally {
      sampler.stop();
    }
    progress.phase = 'draining';
    const drainUntil = Date.now() + opts.drainMs;
    while (Date.now() < drainUntil && paid.ids.some((id) => !heard.has(id) && !summarized.has(id))) {
      assertAlive(rig);
      await sleep(500);
    }
    progress.phase = 'checking';
    tell();
    // A speaker's "announced" comes a moment before its played ack reaches the broker: give the
    // statuses still open a few more seconds to become final.
    const statuses = await finalStatuses(rig.api, paid.ids);
    for (let i = 0; i < 30; i++) {
      const open = paid.ids.filter((id) => !FINAL_STATUSES.has(statuses.get(id)!));
      if (open.length === 0) break;
      await sleep(500);
      for (const [id, status] of await finalStatuses(rig.api, open)) statuses.set(id, status);
    }
    return buildReport(opts, rig, paid, statuses, heard, summarized, samples);
  } finally {
    clearInterval(ticker);
    if (rig) await tearDown(rig);
    if (temp) fs.rmSync(dir, { recursive: true, force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

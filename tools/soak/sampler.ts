/**
 * The soak run's memory sampling: every sample period, the speaker processes' RSS and heap after
 * a full GC (asked over IPC, summed) and the broker's (the last line memory-probe.mjs wrote from
 * inside the broker process), with the payment counts at that moment.
 */
import fs from 'node:fs';
import type { Rig } from './rig.ts';
import type { MemorySample, SoakOptions, SoakProgress } from './types.ts';

/** Samples memory every `sampleMs` from the start; `now()` takes one more at once. */
export function startSampler(
  rig: Rig,
  opts: SoakOptions,
  startedAt: number,
  progress: SoakProgress,
  record: (s: MemorySample) => void,
): { now(): Promise<void>; stop(): void } {
  let busy: Promise<void> = Promise.resolve();
  const take = () =>
    (busy = busy.then(async () => {
      const atMs = Date.now() - startedAt;
      const workers = await Promise.all(rig.workers.map((w) => w.memory())).catch(() => null);
      if (!workers) return;
      record({
        atMs,
        warmup: atMs < opts.warmupMs,
        broker: latestBrokerSample(rig.memoryFile),
        speakers: {
          rss: workers.reduce((a, m) => a + m.rss, 0),
          heapUsed: workers.reduce((a, m) => a + m.heapUsed, 0),
        },
        accepted: progress.accepted,
        announced: progress.announced,
      });
    }));
  const timer = setInterval(() => void take(), opts.sampleMs);
  return {
    now: () => take(),
    stop: () => clearInterval(timer),
  };
}

/** The broker's own last report (memory-probe.mjs), taken at most one sampling period ago. */
function latestBrokerSample(file: string): { rss: number; heapUsed: number } | null {
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    const last = JSON.parse(lines.at(-1)!) as { rss: number; heapUsed: number };
    return { rss: last.rss, heapUsed: last.heapUsed };
  } catch {
    return null;
  }
}

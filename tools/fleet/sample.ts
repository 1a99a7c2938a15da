/** What a fleet process reports about itself: CPU time so far, then memory after a full GC (run with --expose-gc). */
import type { ProcessSample } from './messages.ts';

export function sampleProcess(): ProcessSample {
  // CPU first: the GC below is the measurement's own cost, not the fleet's.
  const cpu = process.cpuUsage();
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, cpuMs: (cpu.user + cpu.system) / 1000 };
}

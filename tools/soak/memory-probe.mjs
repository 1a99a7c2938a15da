/**
 * Loaded into the `payspeaker broker` process of a soak run (NODE_OPTIONS=--import this file),
 * which cannot otherwise report its own heap: every PAYSPEAKER_SOAK_MEMORY_MS it runs a full GC
 * and appends one JSON line to PAYSPEAKER_SOAK_MEMORY_FILE: {at, rss, heapUsed, heapTotal, external,
 * arrayBuffers, spaces}, spaces being V8's committed size per heap space (new_space, old_space…),
 * so that a growing RSS can be told apart: V8 keeping pages, Buffers, or native memory.
 * Without that variable it does nothing. Plain JavaScript: it loads before the launcher
 * registers tsx.
 */
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

const file = process.env.PAYSPEAKER_SOAK_MEMORY_FILE;
const every = Number(process.env.PAYSPEAKER_SOAK_MEMORY_MS) || 10_000;
if (file) {
  // Not inherited by anything the broker might start.
  delete process.env.PAYSPEAKER_SOAK_MEMORY_FILE;
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const sample = () => {
    gc();
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
    fs.appendFileSync(file, `${JSON.stringify({ at: Date.now(), ...m, spaces })}\n`);
  };
  sample();
  setInterval(sample, every).unref();
}

/**
 * Loaded into the `payspeaker broker` process of a soak run (NODE_OPTIONS=--import this file),
 * which cannot otherwise report its own heap: every PAYSPEAKER_SOAK_MEMORY_MS it runs a full GC
 * and appends one JSON line — {at, rss, heapUsed, external} — to PAYSPEAKER_SOAK_MEMORY_FILE.
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
    fs.appendFileSync(
      file,
      `${JSON.stringify({ at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, external: m.external })}\n`,
    );
  };
  sample();
  setInterval(sample, every).unref();
}

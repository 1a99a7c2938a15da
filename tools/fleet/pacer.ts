/**
 * Sleeps until a moment with a precision of tens of microseconds, without spinning a core: a
 * worker thread blocks in Atomics.wait() with the time left as its timeout and then posts back,
 * which wakes this thread's event loop at once. setTimeout() cannot: Node rounds its delay up to
 * whole milliseconds of the event loop's clock, so a generator waking "every millisecond" woke
 * 1-2 ms apart and published its payments a median 1 ms behind their schedule.
 *
 * Both threads read process.hrtime(), the one monotonic clock of the machine. On a crowded
 * machine the thread itself may be scheduled late, so a setTimeout backs each sleep up: the
 * wake is never later than setTimeout alone would have been.
 */
import { Worker } from 'node:worker_threads';

// Plain JavaScript, evaluated in the thread: no TypeScript loader needed there.
const THREAD = `
const { parentPort } = require('node:worker_threads');
const cell = new Int32Array(new SharedArrayBuffer(4));
parentPort.on('message', ({ id, until }) => {
  const left = until - Number(process.hrtime.bigint()) / 1e6;
  if (left > 0) Atomics.wait(cell, 0, 0, left);
  parentPort.postMessage(id);
});
`;

const hrNow = () => Number(process.hrtime.bigint()) / 1e6;

export class Pacer {
  private readonly thread: Worker;
  /** The sleep in progress: its id (the thread's answer names it) and how to end it. */
  private current: { id: number; wake: () => void } | null = null;
  private ids = 0;

  constructor() {
    this.thread = new Worker(THREAD, { eval: true, execArgv: [] });
    // An answer for a sleep the backup timer already ended is ignored.
    this.thread.on('message', (id: number) => (this.current?.id === id ? this.current.wake() : undefined));
    this.thread.unref();
  }

  /** Resolves `ms` milliseconds from now (at once for ms <= 0, after a turn of the event loop). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const id = ++this.ids;
      const wake = () => {
        this.current = null;
        clearTimeout(backup);
        this.thread.unref();
        resolve();
      };
      this.current = { id, wake };
      // Held while sleeping, as a timer would hold the process.
      this.thread.ref();
      this.thread.postMessage({ id, until: hrNow() + ms });
      const backup = setTimeout(wake, Math.max(1, Math.ceil(ms)));
    });
  }

  async close(): Promise<void> {
    await this.thread.terminate();
  }
}

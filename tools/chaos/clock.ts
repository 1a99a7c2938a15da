/**
 * Time for the fault proxy, injected so that schedules, blackhole windows and latency can be
 * driven by fake timers, and so a test can check that close() left no timer behind.
 */
export interface ChaosClock {
  /** Milliseconds; only differences are used. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. Looked up per call, not at import, so vi.useFakeTimers() applies too. */
export const systemClock: ChaosClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The timers one owner (a connection, the proxy) has pending, so it can cancel them all when
 * it goes away: a forgotten timer would fire a fault on a connection that no longer exists.
 */
export class Timers {
  private readonly pending = new Set<unknown>();

  constructor(private readonly clock: ChaosClock) {}

  /** Runs `fn` after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void {
    const handle = this.clock.setTimeout(
      () => {
        this.pending.delete(handle);
        fn();
      },
      Math.max(0, ms),
    );
    this.pending.add(handle);
    return () => {
      if (this.pending.delete(handle)) this.clock.clearTimeout(handle);
    };
  }

  cancelAll(): void {
    for (const handle of this.pending) this.clock.clearTimeout(handle);
    this.pending.clear();
  }
}

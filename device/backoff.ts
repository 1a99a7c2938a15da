/**
 * Reconnect delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"): delay = random(0, min(cap, base·2^attempt)). Full jitter spreads a
 * fleet that lost the broker at the same moment across the whole window, instead of having
 * every box knock again in lockstep.
 *
 * The floor: pure full jitter can draw ~0 ms, and a broker that drops us at once (bad
 * credentials, overload) would then be hammered in a tight loop. So a delay is drawn uniformly
 * from [floor, ceiling] with floor = base/10 (100 ms by default). A tenth keeps almost all of
 * the first window's spread (100-1,000 ms) while ruling out an instant retry.
 */

export interface BackoffOptions {
  /** The first window's upper bound. Default 1,000 ms. */
  baseMs?: number;
  /** No delay is ever longer. Default 60,000 ms. */
  capMs?: number;
  /** Returns [0, 1). Default Math.random. */
  random?: () => number;
}

/** The shortest delay, as a fraction of baseMs (see the file comment). */
export const FLOOR_FRACTION = 0.1;

export class Backoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;
  private retries = 0;

  constructor(o: BackoffOptions = {}) {
    this.baseMs = o.baseMs ?? 1_000;
    this.capMs = o.capMs ?? 60_000;
    this.random = o.random ?? Math.random;
    if (!(this.baseMs > 0 && Number.isFinite(this.baseMs)))
      throw new RangeError(`backoff: baseMs must be a positive number of ms, got ${this.baseMs}`);
    if (!(this.capMs >= this.baseMs && Number.isFinite(this.capMs)))
      throw new RangeError(`backoff: capMs must be ≥ baseMs (${this.baseMs}), got ${this.capMs}`);
  }

  /** How many delays have been handed out since the last reset. */
  get attempt(): number {
    return this.retries;
  }

  /** The lowest delay `next()` can return. */
  get floorMs(): number {
    return this.baseMs * FLOOR_FRACTION;
  }

  /** The upper bound for the delay `next()` returns now: min(cap, base·2^attempt). */
  ceilingMs(): number {
    // 2 ** attempt reaches Infinity after ~1,000 attempts; Math.min still yields the cap.
    return Math.min(this.capMs, this.baseMs * 2 ** this.retries);
  }

  /** The delay before the next try, in whole ms, within [floor, ceiling]. */
  next(): number {
    const ceiling = this.ceilingMs();
    const r = Math.min(Math.max(this.random(), 0), 1); // a bad random() cannot escape the window
    this.retries += 1;
    return Math.round(this.floorMs + r * (ceiling - this.floorMs));
  }

  /** After a success: the next failure starts again from the first window. */
  reset(): void {
    this.retries = 0;
  }
}

export interface RetryOptions extends BackoffOptions {
  setTimeout?: typeof setTimeout;
  clearTimeout?: typeof clearTimeout;
  /** Told each wait before it starts: its length and the number of the try that follows (1-based). */
  onWait?: (ms: number, attempt: number) => void;
}

/**
 * Calls `attempt()` after backoff delays until it resolves true; cancellable. Timers via
 * injected setTimeout/clearTimeout so vitest fake timers drive it.
 *
 * Every try, the first included, comes after a delay: this is for retrying something that has
 * just failed. An attempt that throws counts as a failed one (logging it is the attempt's job).
 * `cancel()` stops further tries and resolves `done` with false at once; a try already running
 * is not interrupted, and its result is ignored.
 */
export function retryWithBackoff(
  attempt: () => Promise<boolean>,
  opts: RetryOptions = {},
): { cancel(): void; done: Promise<boolean> } {
  // Looked up per call, not at import, so vi.useFakeTimers() applies without injection too.
  const setTimer = opts.setTimeout ?? globalThis.setTimeout;
  const clearTimer = opts.clearTimeout ?? globalThis.clearTimeout;
  const backoff = new Backoff(opts);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  let settle!: (ok: boolean) => void;
  const done = new Promise<boolean>((resolve) => (settle = resolve));

  const finish = (ok: boolean) => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) clearTimer(timer);
    settle(ok);
  };
  const run = async () => {
    timer = undefined;
    const ok = await Promise.resolve()
      .then(attempt)
      .then(
        (r) => r === true,
        () => false,
      );
    if (ok) finish(true);
    else wait();
  };
  const wait = () => {
    if (finished) return;
    const ms = backoff.next();
    opts.onWait?.(ms, backoff.attempt);
    timer = setTimer(() => void run(), ms);
  };

  wait();
  return { cancel: () => finish(false), done };
}

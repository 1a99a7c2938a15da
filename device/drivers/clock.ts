/**
 * The clock driver every board uses: the platform's wall time, `performance.now` and timers.
 * The timers are looked up on each call, not at import, so vitest's fake timers
 * (`vi.useFakeTimers()`) drive the firmware without anything being injected. Works the same in
 * Node and in a browser (where timers have no `unref`).
 *
 * Each board makes its own clock with `createSystemClock()`: its wall time is the platform's
 * plus an offset of its own, which `set` moves (the firmware sets it from the broker's time), so
 * the 10,000 speakers of a fleet in one process each keep their own time and setting one never
 * moves another, nor the process's. `systemClock` is the platform's time as it is (it cannot be set).
 */
import type { Clock, Timer, TimerOptions } from '../board.ts';

type Handle = ReturnType<typeof globalThis.setTimeout>;

function timer(handle: Handle, clear: (h: Handle) => void, opts?: TimerOptions): Timer {
  if (opts?.background) (handle as { unref?: () => void }).unref?.();
  return { cancel: () => clear(handle) };
}

/** The platform's clock, shared, never set by the firmware. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  after: (ms, fn, opts) => timer(globalThis.setTimeout(fn, ms), (h) => globalThis.clearTimeout(h), opts),
  every: (ms, fn, opts) => timer(globalThis.setInterval(fn, ms), (h) => globalThis.clearInterval(h), opts),
};

export interface SystemClockOptions {
  /**
   * What the wall clock reads when the board starts (epoch ms), instead of the platform's time:
   * `0` is a box whose real-time clock lost power and boots in 1970.
   */
  startAt?: number;
}

/** A board's own clock: the platform's wall time plus an offset that `set` moves; timers and `monotonic` are the platform's. */
export function createSystemClock(opts: SystemClockOptions = {}): Clock {
  // Date.now is read on each call (not captured), so fake timers move this clock too.
  let offset = opts.startAt === undefined ? 0 : opts.startAt - Date.now();
  let synced = false;
  return {
    ...systemClock,
    now: () => Date.now() + offset,
    set(epochMs: number) {
      if (!Number.isFinite(epochMs)) throw new RangeError(`clock.set: ${epochMs} is not a time in epoch milliseconds`);
      offset = epochMs - Date.now();
      synced = true;
    },
    synced: () => synced,
  };
}

/** The system clock with another wall time (a test's fixed or fast-forwarded `now`); it cannot be set. */
export function clockWithNow(now: () => number): Clock {
  return { ...systemClock, now };
}

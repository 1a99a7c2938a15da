/**
 * The clock driver every board uses: the platform's wall time, `performance.now` and timers.
 * The timers are looked up on each call, not at import, so vitest's fake timers
 * (`vi.useFakeTimers()`) drive the firmware without anything being injected. Works the same in
 * Node and in a browser (where timers have no `unref`).
 */
import type { Clock, Timer, TimerOptions } from '../board.ts';

type Handle = ReturnType<typeof globalThis.setTimeout>;

function timer(handle: Handle, clear: (h: Handle) => void, opts?: TimerOptions): Timer {
  if (opts?.background) (handle as { unref?: () => void }).unref?.();
  return { cancel: () => clear(handle) };
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  after: (ms, fn, opts) => timer(globalThis.setTimeout(fn, ms), (h) => globalThis.clearTimeout(h), opts),
  every: (ms, fn, opts) => timer(globalThis.setInterval(fn, ms), (h) => globalThis.clearInterval(h), opts),
};

/** The system clock with another wall time (a test's fixed or fast-forwarded `now`). */
export function clockWithNow(now: () => number): Clock {
  return { ...systemClock, now };
}

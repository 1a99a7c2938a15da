/** Reconnect backoff: full-jitter windows, the floor, the cap, reset, and the retry loop on fake timers. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backoff, FLOOR_FRACTION, retryWithBackoff } from '../../device/backoff.ts';
import { seededRandom } from '../fixtures/random.ts';

const BASE = 1_000;
const CAP = 60_000;
const FLOOR = BASE * FLOOR_FRACTION;
const ceiling = (n: number) => Math.min(CAP, BASE * 2 ** n);
const ALMOST_ONE = 0.9999999999;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Backoff', () => {
  it('keeps every delay within [floor, min(cap, base·2^n)] over many seeded draws', () => {
    const random = seededRandom(42);
    for (let run = 0; run < 200; run++) {
      const b = new Backoff({ random });
      for (let n = 0; n < 12; n++) {
        const d = b.next();
        expect(d).toBeGreaterThanOrEqual(FLOOR);
        expect(d).toBeLessThanOrEqual(ceiling(n));
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });

  it('uses the whole window (full jitter), not just its top', () => {
    const random = seededRandom(7);
    const fifth = Array.from({ length: 500 }, () => {
      const b = new Backoff({ random });
      for (let n = 0; n < 5; n++) b.next();
      return b.next(); // window [100, 32,000]
    });
    expect(Math.min(...fifth)).toBeLessThan(2_000);
    expect(Math.max(...fifth)).toBeGreaterThan(30_000);
  });

  it('never goes below the floor, even when random() returns 0', () => {
    const b = new Backoff({ random: () => 0 });
    for (let n = 0; n < 20; n++) expect(b.next()).toBe(FLOOR);
  });

  it('reaches the upper bounds when random() is almost 1', () => {
    const b = new Backoff({ random: () => ALMOST_ONE });
    const delays = Array.from({ length: 9 }, () => b.next());
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('holds the cap at attempt 50 and far beyond', () => {
    const b = new Backoff({ random: () => ALMOST_ONE });
    for (let n = 0; n < 50; n++) b.next();
    expect(b.attempt).toBe(50);
    expect(b.next()).toBe(CAP);
    for (let n = 51; n < 1_200; n++) b.next(); // 2^1,100 is Infinity as a double
    expect(b.next()).toBe(CAP);
  });

  it('reset() goes back to the first window', () => {
    const b = new Backoff({ random: () => ALMOST_ONE });
    for (let n = 0; n < 8; n++) b.next();
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(BASE);
    expect(b.attempt).toBe(1);
  });

  it('honours custom base and cap', () => {
    const b = new Backoff({ baseMs: 50, capMs: 300, random: () => ALMOST_ONE });
    expect(Array.from({ length: 5 }, () => b.next())).toEqual([50, 100, 200, 300, 300]);
    expect(new Backoff({ baseMs: 50, random: () => 0 }).next()).toBe(5);
  });

  it('refuses nonsense options with the value', () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow('baseMs must be a positive number of ms, got 0');
    expect(() => new Backoff({ baseMs: 1_000, capMs: 500 })).toThrow('capMs must be ≥ baseMs (1000), got 500');
  });
});

describe('retryWithBackoff', () => {
  /** An attempt that fails `failures` times, then succeeds; records the virtual time of each call. */
  function flaky(failures: number) {
    const calls: number[] = [];
    const attempt = vi.fn(async () => {
      calls.push(Date.now());
      return calls.length > failures;
    });
    return { attempt, calls };
  }

  it('tries at the right virtual times and stops on success', async () => {
    const t0 = Date.now();
    const { attempt, calls } = flaky(3);
    const waits: [number, number][] = [];
    // random 0.5: delay = 100 + 0.5·(ceiling − 100) → 550, 1,050, 2,050, 4,050
    const { done } = retryWithBackoff(attempt, { random: () => 0.5, onWait: (ms, n) => waits.push([ms, n]) });
    await vi.advanceTimersByTimeAsync(549);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([t0 + 550]);
    await vi.advanceTimersByTimeAsync(1_050 + 2_050);
    expect(calls).toEqual([t0 + 550, t0 + 1_600, t0 + 3_650]);
    await vi.advanceTimersByTimeAsync(4_050);
    await expect(done).resolves.toBe(true);
    expect(calls.map((t) => t - t0)).toEqual([550, 1_600, 3_650, 7_700]);
    expect(waits).toEqual([
      [550, 1],
      [1_050, 2],
      [2_050, 3],
      [4_050, 4],
    ]);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(attempt).toHaveBeenCalledTimes(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops on cancel: done resolves false at once and no timer is left', async () => {
    const { attempt } = flaky(Infinity);
    const { cancel, done } = retryWithBackoff(attempt, { random: () => ALMOST_ONE });
    await vi.advanceTimersByTimeAsync(1_000 + 2_000);
    expect(attempt).toHaveBeenCalledTimes(2);
    cancel();
    await expect(done).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(attempt).toHaveBeenCalledTimes(2);
  });

  it('ignores the result of a try that was running when cancelled', async () => {
    let finishTry!: (ok: boolean) => void;
    const attempt = vi.fn(() => new Promise<boolean>((r) => (finishTry = r)));
    const { cancel, done } = retryWithBackoff(attempt, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(FLOOR);
    expect(attempt).toHaveBeenCalledTimes(1);
    cancel();
    finishTry(true);
    await expect(done).resolves.toBe(false);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('counts a throwing try as a failure and keeps going', async () => {
    let n = 0;
    const attempt = vi.fn(async () => {
      n += 1;
      if (n < 3) throw new Error('ECONNREFUSED');
      return true;
    });
    const { done } = retryWithBackoff(attempt, { random: () => 0 });
    await vi.advanceTimersByTimeAsync(3 * FLOOR);
    await expect(done).resolves.toBe(true);
    expect(attempt).toHaveBeenCalledTimes(3);
  });

  it('uses injected timer functions', async () => {
    vi.useRealTimers();
    const scheduled: number[] = [];
    const pending: (() => void)[] = [];
    const fakeSet = ((fn: () => void, ms: number) => {
      scheduled.push(ms);
      pending.push(fn);
      return scheduled.length; // the timer's id
    }) as unknown as typeof setTimeout;
    const cleared: unknown[] = [];
    const fakeClear = ((id: unknown) => void cleared.push(id)) as typeof clearTimeout;
    const { cancel, done } = retryWithBackoff(async () => false, {
      random: () => ALMOST_ONE,
      setTimeout: fakeSet,
      clearTimeout: fakeClear,
    });
    pending.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(scheduled).toEqual([1_000, 2_000]);
    cancel();
    expect(cleared).toEqual([2]);
    await expect(done).resolves.toBe(false);
  });
});

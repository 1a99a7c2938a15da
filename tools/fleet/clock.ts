/**
 * One clock for every process of a fleet run: Unix epoch milliseconds with microsecond
 * resolution, read on the machine's monotonic clock, so a wall-clock step during the run does
 * not show up as a latency, and readings taken in the generator and in a worker process can be
 * subtracted (the workers use the coordinator's epoch offset: adoptClock).
 *
 * The epoch offset is calibrated once per process, when this module loads, against Date.now()
 * (CLOCK_REALTIME, one clock for every process of the machine): spin while Date.now() ticks
 * over ten times (10 ms), noting performance.now() just before and after each tick is seen.
 * Each tick gives a lower bound of the offset (the tick was no later than the reading after
 * it); the largest of them is the estimate, a few microseconds from the truth. Ten ticks
 * rather than one, because on a VM the wall clock often ticks late (here a third of the ticks
 * in the first milliseconds of a process, by 0.02-0.8 ms); it was never seen to tick early.
 * `performance.timeOrigin + now()`, used before, rests on one reading of the wall clock at
 * start-up, which such a late tick can put off by as much; an offset between two processes'
 * clocks lands whole in every cross-process latency, against a 5 ms target. (Measured here, at a
 * load average of 22: timeOrigin within 5 µs of this calibration in 10 processes out of 10.)
 */

/** Ticks of Date.now() to catch (one a millisecond) seen within TIGHT_MS, and the longest the spin may take. */
const TICKS = 10;
const TIGHT_MS = 0.02;
const SPIN_MAX_MS = 15;

export interface Calibration {
  /** Add to performance.now() for epoch ms. */
  offset: number;
  /** How long the tick that decided the offset could have been seen before it was (ms). */
  uncertainty: number;
  ticks: number;
}

export function calibrate(now: () => number = () => performance.now(), wall: () => number = Date.now): Calibration {
  let best: Calibration | null = null;
  let ticks = 0;
  let last = wall();
  let before = now();
  const limit = before + SPIN_MAX_MS;
  while (ticks < TICKS && before < limit) {
    const w = wall();
    const after = now();
    if (w !== last) {
      // The tick to w happened before `after`, so offset >= w - after; a late tick gives less.
      if (!best || w - after > best.offset) best = { offset: w - after, uncertainty: after - before, ticks: 0 };
      if (after - before <= TIGHT_MS) ticks += 1;
      last = w;
    }
    before = after;
  }
  // No tick in 15 ms (a process stopped for the whole spin): Date.now() alone, within 1 ms.
  return { ...(best ?? { offset: wall() + 0.5 - now(), uncertainty: 1 }), ticks };
}

export const calibration: Calibration = calibrate();

/**
 * CLOCK_MONOTONIC at performance.now() = 0. performance.now() counts from this process's own
 * start; process.hrtime reads the machine's monotonic clock, the same in every process. Two
 * reads back to back: off by well under a microsecond.
 */
const MONOTONIC_ORIGIN = Number(process.hrtime.bigint()) / 1e6 - performance.now();

/**
 * Epoch ms minus monotonic ms. Each process calibrates its own at start-up, but a fleet's
 * workers take the coordinator's (adoptClock): a wall clock stepped by NTP or the hypervisor
 * between the coordinator's start and a worker's would otherwise be a constant error in every
 * latency that worker reports — and a benchmark starts its last fleet minutes after its first.
 */
let epochMinusMonotonic = calibration.offset - MONOTONIC_ORIGIN;

/** This process's clock, to hand to the processes it starts. */
export function clockOffset(): number {
  return epochMinusMonotonic;
}

/** Reads the clock of the process that started this one (its clockOffset()). */
export function adoptClock(offset: number): void {
  if (Number.isFinite(offset)) epochMinusMonotonic = offset;
}

export function preciseNow(): number {
  return epochMinusMonotonic + MONOTONIC_ORIGIN + performance.now();
}

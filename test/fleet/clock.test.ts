/**
 * The fleet's one clock (tools/fleet/clock.ts): readings taken in two processes can be
 * subtracted. A payment's latency is the worker's reading minus the generator's, so an offset
 * between their clocks lands whole in every figure.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { adoptClock, calibrate, calibration, clockOffset, preciseNow } from '../../tools/fleet/clock.ts';

const CLOCK = new URL('../../tools/fleet/clock.ts', import.meta.url).href;

/** A second process that answers every message with its preciseNow(). */
function clockChild() {
  const code = `const { preciseNow, adoptClock } = await import(${JSON.stringify(CLOCK)});
process.on('message', (m) => (typeof m === 'number' ? (adoptClock(m), process.send('adopted')) : process.send(preciseNow())));
process.on('disconnect', () => process.exit(0));
process.send('ready');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () => new Promise<unknown>((resolve) => child.once('message', resolve));
  return { child, next };
}

describe('preciseNow', () => {
  it('agrees with Date.now() in this process, to well under 0.1 ms', () => {
    expect(calibration.ticks).toBeGreaterThan(0);
    // Date.now() is the wall clock truncated to the millisecond: between the readings around it
    // it must be in [before - 1, after]. Samples a stall widened are left out.
    let tight = 0;
    let outside = 0;
    for (let i = 0; i < 20_000; i++) {
      const before = preciseNow();
      const wall = Date.now();
      const after = preciseNow();
      if (after - before > 0.01) continue;
      tight += 1;
      if (wall < before - 1 - 0.05 || wall > after + 0.05) outside += 1;
    }
    expect(tight).toBeGreaterThan(1000);
    // The wall clock of a VM now and then ticks a little late: a few such samples are allowed.
    expect(outside / tight).toBeLessThan(0.01);
  });

  it("a second process's reading falls between this process's readings before and after asking (within 0.2 ms)", async () => {
    const { child, next } = clockChild();
    try {
      expect(await next()).toBe('ready');
      const rounds: { before: number; theirs: number; after: number }[] = [];
      for (let i = 0; i < 200; i++) {
        const reply = next();
        const before = preciseNow();
        child.send('now?');
        const theirs = (await reply) as number;
        rounds.push({ before, theirs, after: preciseNow() });
      }
      // The child read its clock after we asked and before we heard back, however busy the
      // machine: with one clock, every reading is inside its bracket, whatever the round trip.
      const outside = rounds.filter((r) => r.theirs < r.before - 0.2 || r.theirs > r.after + 0.2);
      expect(outside).toEqual([]);
      // And the brackets were narrow enough to mean something: an offset of 1 ms would not fit.
      const tightest = Math.min(...rounds.map((r) => r.after - r.before));
      expect(tightest).toBeLessThan(1);
    } finally {
      child.disconnect();
    }
  }, 30_000);

  it("a process that adopts another's clock reads that clock: its offset, to the microsecond, whatever its own", async () => {
    const { child, next } = clockChild();
    try {
      expect(await next()).toBe('ready');
      // Ours, shifted by 250 ms: as if the wall clock had been stepped between the two starts.
      const shifted = clockOffset() + 250;
      const adopted = next();
      child.send(shifted);
      expect(await adopted).toBe('adopted');
      const reply = next();
      const before = preciseNow();
      child.send('now?');
      const theirs = (await reply) as number;
      const after = preciseNow();
      expect(theirs - 250).toBeGreaterThanOrEqual(before - 0.2);
      expect(theirs - 250).toBeLessThanOrEqual(after + 0.2);
    } finally {
      child.disconnect();
    }
  }, 30_000);

  it('adoptClock ignores what is not a finite offset', () => {
    const mine = clockOffset();
    adoptClock(Number.NaN);
    expect(clockOffset()).toBe(mine);
  });

  it('takes the latest tick when the wall clock ticks late, and falls back to Date.now() when it never ticks', () => {
    // A fake pair of clocks: performance.now() advances 1 µs a read; the wall clock ticks each
    // millisecond at offset 1000, except the first tick, seen 0.3 ms late.
    let t = 0;
    const now = () => (t += 0.001);
    const wall = () => (t < 1.3 ? 1000 : Math.floor(1000 + t));
    const c = calibrate(now, wall);
    expect(c.offset).toBeCloseTo(1000, 2);
    expect(c.ticks).toBe(10);

    let u = 0;
    const stuck = calibrate(
      () => (u += 0.001),
      () => 5000,
    );
    expect(stuck).toMatchObject({ ticks: 0, uncertainty: 1 });
    expect(stuck.offset + u).toBeCloseTo(5000.5, 2);
  });
});

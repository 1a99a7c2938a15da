/**
 * Settling before the warm-up (tools/fleet/warmup.ts): wait until no child process is busy, but
 * not for ever. The CPU readings are injected; /proc is read for real once, for this process.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childrenCpuMs, settle } from '../../tools/fleet/warmup.ts';

/** CPU ms per child as time passes: `busy(t)` is each child's share of a core at t ms. */
function fakeCpu(busy: (t: number) => number[]) {
  const start = performance.now();
  let last = start;
  const used = [0, 0];
  return () => {
    const now = performance.now();
    busy(now - start).forEach((share, i) => (used[i]! += share * (now - last)));
    last = now;
    return new Map(used.map((ms, i) => [1000 + i, ms]));
  };
}

describe('settle', () => {
  it('waits while a child is busy, and returns once every one is quiet for half a second', async () => {
    // Child 1 busy (80 % of a core) for the first 700 ms, then idle; child 0 idle throughout.
    const r = await settle(
      5000,
      fakeCpu((t) => [0.02, t < 700 ? 0.8 : 0.01]),
    );
    expect(r.quiet).toBe(true);
    expect(r.ms).toBeGreaterThan(1000);
    expect(r.ms).toBeLessThan(3000);
    expect(r.busiest).toBeLessThan(0.2);
  });

  it('gives up at its bound and says the fleet was not quiet', async () => {
    const r = await settle(
      800,
      fakeCpu(() => [0.9, 0]),
    );
    expect(r).toMatchObject({ quiet: false });
    expect(r.ms).toBeGreaterThanOrEqual(800);
    expect(r.busiest).toBeGreaterThan(0.5);
  });

  it('reads its children from /proc where there is one', async () => {
    const cpu = childrenCpuMs();
    if (cpu === null) return; // not Linux: settling is a fixed wait there
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 2000)'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(childrenCpuMs()!.has(child.pid!)).toBe(true);
    } finally {
      child.kill();
    }
  });
});

/**
 * A small fleet end to end: real speakers (the whole firmware pipeline) in forked worker
 * processes, the embedded aedes broker in its own process, and the generator publishing at a
 * fixed rate. Every payment must be heard exactly once. Figures are printed, not asserted.
 */
import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS, runFleet, type FleetOptions } from '../../tools/fleet/run.ts';

const small = (patch: Partial<FleetOptions>): FleetOptions => ({
  ...FLEET_DEFAULTS,
  devices: 200,
  loads: [{ rate: 100, durationMs: 3000, window: 100 }],
  brokerUrl: null,
  drainMs: 15_000,
  ...patch,
});

describe('payspeaker fleet', () => {
  it('200 signed speakers hear 300 payments at 100/s: none lost, none twice', async () => {
    const r = await runFleet(small({}));
    expect(r.connect.devices).toBe(200);
    const [load] = r.loads;
    expect(load).toMatchObject({ sent: 300, heard: 300, lost: 0, duplicates: 0, unknown: 0, publishErrors: 0 });
    expect(r.devices).toMatchObject({ rejected: 0, stray: 0 });
    expect(r.run).toMatchObject({ mode: 'speakers', signed: true, workers: expect.any(Number) });
    // Every heard payment has a latency, and the corrected one is never below the uncorrected.
    expect(load!.latency.corrected.count).toBe(300);
    expect(load!.latency.corrected.p50).toBeGreaterThan(0);
    expect(load!.latency.corrected.max).toBeGreaterThanOrEqual(load!.latency.uncorrected.max);
    expect(r.ok).toBe(true);
    console.log(
      `fleet: 200 speakers, 300 payments: connect ${r.connect.seconds} s, p50 ${load!.latency.corrected.p50} ms, p99 ${load!.latency.corrected.p99} ms`,
    );
  }, 90_000);

  it('raw MQTT clients (the baseline), a fixed rate then max rate with a window: none lost, none twice', async () => {
    const loads = [
      { rate: 50, durationMs: 1000, window: 1 },
      { rate: 'max' as const, durationMs: 1000, window: 20 },
    ];
    const r = await runFleet(small({ devices: 50, mode: 'raw', loads, workers: 1 }));
    expect(r.run).toMatchObject({ mode: 'raw', signed: false, workers: 1 });
    expect(r.loads.map((l) => [l.rate, l.window])).toEqual([
      [50, null],
      ['max', 20],
    ]);
    expect(r.loads[0]).toMatchObject({ sent: 50, heard: 50, lost: 0, duplicates: 0, unknown: 0 });
    expect(r.loads[1]!.sent).toBeGreaterThan(0);
    expect(r.loads[1]).toMatchObject({ heard: r.loads[1]!.sent, lost: 0, duplicates: 0, unknown: 0 });
  }, 60_000);
});

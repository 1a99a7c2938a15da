/**
 * A small fleet end to end: real speakers (the whole firmware pipeline) in forked worker
 * processes, the embedded aedes broker in its own process, and the generator publishing at a
 * fixed rate. Every payment must be heard exactly once. Figures are printed, not asserted.
 */
import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS, runFleet, type FleetOptions } from '../../src/fleet/run.ts';

const small = (patch: Partial<FleetOptions>): FleetOptions => ({
  ...FLEET_DEFAULTS,
  devices: 200,
  rate: 100,
  durationMs: 3000,
  brokerUrl: null,
  drainMs: 15_000,
  ...patch,
});

describe('payspeaker fleet', () => {
  it('200 signed speakers hear 300 payments at 100/s: none lost, none twice', async () => {
    const r = await runFleet(small({}));
    expect(r.connect.devices).toBe(200);
    expect(r.payments).toMatchObject({ sent: 300, heard: 300, lost: 0, duplicates: 0, rejected: 0, stray: 0, unknown: 0, publishErrors: 0 });
    expect(r.run).toMatchObject({ mode: 'speakers', signed: true, workers: expect.any(Number) });
    // Every heard payment has a latency, and the corrected one is never below the uncorrected.
    expect(r.latency.corrected.count).toBe(300);
    expect(r.latency.corrected.p50).toBeGreaterThan(0);
    expect(r.latency.corrected.max).toBeGreaterThanOrEqual(r.latency.uncorrected.max);
    expect(r.ok).toBe(true);
    console.log(`fleet: 200 speakers, 300 payments: connect ${r.connect.seconds} s, p50 ${r.latency.corrected.p50} ms, p99 ${r.latency.corrected.p99} ms`);
  }, 90_000);

  it('raw MQTT clients (the baseline) at max rate with a window: none lost, none twice', async () => {
    const r = await runFleet(small({ devices: 50, mode: 'raw', rate: 'max', window: 20, durationMs: 1000, workers: 1 }));
    expect(r.run).toMatchObject({ mode: 'raw', signed: false, window: 20, workers: 1 });
    expect(r.payments.sent).toBeGreaterThan(0);
    expect(r.payments).toMatchObject({ heard: r.payments.sent, lost: 0, duplicates: 0 });
  }, 60_000);
});

/**
 * The chaos run (tools/chaos/scenario.ts) at the size issue 5 asks for: 1,000 payments through
 * the HTTP API to 10 speaker processes, while the fault proxy resets and drops connections at
 * random, the broker is SIGKILLed and restarted once and one speaker is SIGKILLed and
 * restarted once. Every payment must end final and be announced exactly once. Bounded: the
 * payments flow for 20 s and the whole run takes about a minute here.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../../tools/chaos/scenario.ts';

describe('chaos', () => {
  it('announces every one of 1,000 payments exactly once through resets, drops and two SIGKILLs', async () => {
    const report = await runChaos({
      payments: 1000,
      devices: 10,
      rate: 50,
      meanFaultMs: 2000,
      seed: 20261124,
      killBroker: true,
      killDevice: true,
      drainMs: 45_000,
    });
    const s = report.statuses;
    console.log(
      `chaos: ${report.payments} payments, ${report.devices} speakers, ${(report.durationMs / 1000).toFixed(1)} s; ` +
        `played ${s.played}, duplicate ${s.duplicate}, summarized ${s.summarized}, rejected ${s.rejected}, expired ${s.expired}, pending ${s.queued + s.delivered}; ` +
        `announced once ${report.audio.once}, twice ${report.audio.twice}, missing ${report.audio.missing}, unexpected ${report.audio.unexpected}; ` +
        `faults ${JSON.stringify(report.faults)}`,
    );
    expect(report.audio.problems).toEqual([]);
    expect(s.queued + s.delivered).toBe(0);
    expect(s.played + s.duplicate).toBe(1000);
    expect(report.audio.once).toBe(1000);
    expect([report.audio.twice, report.audio.missing, report.audio.unexpected]).toEqual([0, 0, 0]);
    expect(report.faults.brokerKills).toBe(1);
    expect(report.faults.deviceKills).toBe(1);
    expect(report.faults.injected.reset + report.faults.injected.drop).toBeGreaterThan(10);
    expect(report.ok).toBe(true);
  }, 120_000);
});

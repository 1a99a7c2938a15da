/**
 * `fleet --reconnect-storm`: mid-load every device link is cut at once; the devices come back
 * on their own (speakers: the firmware's backoff with jitter), the broker keeps what was
 * published meanwhile in their persistent sessions, and the report says how long it took and
 * whether every payment from the storm on was heard exactly once.
 */
import { describe, expect, it } from 'vitest';
import { FLEET_DEFAULTS, runFleet, type FleetOptions } from '../../tools/fleet/run.ts';
import { formatReport } from '../../tools/fleet/report.ts';

const run = (patch: Partial<FleetOptions>) =>
  runFleet({
    ...FLEET_DEFAULTS,
    devices: 200,
    loads: [{ rate: 100, durationMs: 4000, window: 1 }],
    brokerUrl: null,
    drainMs: 15_000,
    warmupMs: 0,
    reconnectStormMs: 1000,
    ...patch,
  });

describe('fleet --reconnect-storm', () => {
  it('200 speakers cut at once all come back, and every payment from the storm on is heard once', async () => {
    const r = await run({ prefix: 'STORM' });
    const s = r.storm!;
    expect(s).toMatchObject({ dropped: 200, back: 200, stillOffline: 0 });
    expect(s.atS).toBeGreaterThanOrEqual(1);
    expect(s.atS).toBeLessThan(2);
    // The firmware's first window is 0.1-1 s: nobody is back at once, and the last one after its own delay.
    expect(s.reconnectS!.p50).toBeGreaterThan(0.05);
    expect(s.reconnectS!.max).toBeGreaterThanOrEqual(s.reconnectS!.p99);
    expect(s.allBackS).toBeGreaterThanOrEqual(s.reconnectS!.max);
    expect(s.reconnectPolicy).toMatch(/firmware's backoff/);
    // 100/s from 1 s to 4 s: about 300 payments from the storm on, some while devices were away.
    expect(s.payments.sent).toBeGreaterThan(250);
    expect(s.payments).toMatchObject({ heard: s.payments.sent, lost: 0, duplicates: 0 });
    expect(s.whileReconnecting.sent).toBeGreaterThan(0);
    expect(s.whileReconnecting.heard).toBe(s.whileReconnecting.sent);
    expect(r.loads[0]).toMatchObject({ sent: 400, heard: 400, lost: 0, duplicates: 0 });
    expect(r.ok).toBe(true);
    expect(formatReport(r)).toMatch(/reconnect storm .* 200 links cut at once/);
    console.log(
      formatReport(r)
        .split('\n')
        .filter((l) => /storm|back online|reconnect time|payments from/.test(l))
        .join('\n'),
    );
  }, 120_000);

  it('raw clients come back on MQTT.js reconnectPeriod, and nothing is lost', async () => {
    const r = await run({
      prefix: 'STORMRAW',
      mode: 'raw',
      devices: 50,
      loads: [{ rate: 50, durationMs: 3000, window: 1 }],
    });
    expect(r.storm).toMatchObject({ dropped: 50, back: 50, stillOffline: 0 });
    expect(r.storm!.reconnectPolicy).toMatch(/reconnectPeriod/);
    expect(r.storm!.payments).toMatchObject({ lost: 0, duplicates: 0 });
    expect(r.ok).toBe(true);
  }, 90_000);

  it('no storm asked: no storm section', async () => {
    const r = await run({
      prefix: 'NOSTORM',
      mode: 'raw',
      devices: 10,
      reconnectStormMs: null,
      loads: [{ rate: 10, durationMs: 500, window: 1 }],
    });
    expect(r.storm).toBeNull();
  }, 60_000);
});

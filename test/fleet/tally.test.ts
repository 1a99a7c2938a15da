/** The fleet's ledger: lost, duplicates, and latency from the schedule (coordinated omission). */
import { describe, expect, it } from 'vitest';
import { Tally } from '../../tools/fleet/tally.ts';
import { paymentId, paymentSeq, deviceId } from '../../tools/fleet/ids.ts';
import { recordBatch } from '../../tools/fleet/tally.ts';

const heard = (t: Tally | Tally[], pairs: [number, number][]) =>
  recordBatch(Array.isArray(t) ? t : [t], {
    t: 'heard',
    seq: Float64Array.from(pairs.map((p) => p[0])),
    at: Float64Array.from(pairs.map((p) => p[1])),
    inSummary: new Uint8Array(pairs.length),
  });

describe('Tally', () => {
  it('measures from the schedule, so a generator that stalled cannot hide the wait', () => {
    const t = new Tally();
    // Due at 0, 10, 20 ms; the generator stalled and published all three at 20 ms.
    for (const seq of [0, 1, 2]) t.recordSent(seq, 1000 + seq * 10, 1020);
    heard(t, [
      [0, 1021],
      [1, 1021],
      [2, 1021],
    ]);
    expect(t.corrected.maxValue).toBeGreaterThanOrEqual(20_900); // µs: 21 ms late for payment 0
    expect(t.uncorrected.maxValue).toBeLessThan(1100); // the naive figure: 1 ms
    expect(t.heard).toBe(3);
  });

  it("records the generator's lag behind its schedule (published - intended) for every payment sent, heard or not", () => {
    const t = new Tally();
    t.recordSent(0, 1000, 1000.25); // 0.25 ms late
    t.recordSent(1, 1010, 1012); // 2 ms late
    t.recordSent(2, 1020, 1019.9); // a hair early (clock rounding): counted as on time
    expect(t.lag.totalCount).toBe(3);
    expect([t.lag.minNonZeroValue, t.lag.maxValue, t.lag.getValueAtPercentile(0)]).toEqual([250, 2000, 0]);
  });

  it('counts a second hearing as a duplicate, and an unknown sequence number or a missing time as unknown', () => {
    const t = new Tally();
    t.recordSent(0, 0, 0);
    t.recordSent(1, 1, 1);
    heard(t, [
      [0, 5],
      [0, 6],
      [7, 6],
      [1, Number.NaN],
    ]);
    expect({ heard: t.heard, duplicates: t.duplicates, unknown: t.unknown, outstanding: t.outstanding }).toEqual({
      heard: 1,
      duplicates: 1,
      unknown: 2,
      outstanding: 1,
    });
  });

  it('routes each payment to the load it belongs to', () => {
    const first = new Tally(0);
    first.recordSent(0, 0, 0);
    first.recordSent(1, 0, 0);
    const second = new Tally(2);
    second.recordSent(0, 10, 10);
    heard(
      [first, second],
      [
        [2, 11],
        [1, 3],
        [0, 2],
      ],
    );
    expect([first.heard, second.heard, first.unknown, second.unknown]).toEqual([2, 1, 0, 0]);
    expect(second.corrected.maxValue).toBeLessThan(1100); // 1 ms, from its own schedule
  });

  it('counts as lost only what was due before the cut-off and is still unheard', () => {
    const t = new Tally();
    for (let seq = 0; seq < 5; seq++) t.recordSent(seq, seq * 100, seq * 100);
    heard(t, [
      [0, 50],
      [2, 250],
    ]);
    expect(t.unheardBefore(250)).toBe(1); // due at 0, 100, 200 ms; 0 and 2 were heard
    expect(t.unheardBefore(1000)).toBe(3);
  });
});

describe('fleet ids', () => {
  it('round-trips payment sequence numbers and ignores other runs', () => {
    expect(paymentSeq('r1234567', paymentId('r1234567', 42))).toBe(42);
    expect(paymentSeq('r1234567', paymentId('r7654321', 42))).toBe(-1);
    expect(paymentSeq('r1234567', 'r1234567x-1')).toBe(-1);
    expect(paymentSeq('r1234567', 'PAY-1')).toBe(-1);
    expect(deviceId('FLEET', 0)).toBe('FLEET-00001');
  });
});

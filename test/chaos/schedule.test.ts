/** The parts of the fault proxy that need no socket: schedules as written by hand, and seeded draws. */
import { describe, expect, it } from 'vitest';
import { parseSchedule, stepFault } from '../../tools/chaos/schedule.ts';
import { parseFaultWeights } from '../../tools/chaos/faults.ts';
import { FaultRandom } from '../../tools/chaos/random.ts';

describe('schedule', () => {
  it('accepts every fault kind and turns steps into faults', () => {
    const steps = parseSchedule([
      { atMs: 0, fault: 'reset', target: 'one' },
      { atMs: 10, fault: 'blackhole', durationMs: 500 },
      { atMs: 20, fault: 'delay', delayMs: 100, jitterMs: 20, durationMs: 1000 },
      { atMs: 30, fault: 'refuse', durationMs: 2000 },
      { atMs: 40, fault: 'drop' },
    ]);
    expect(steps.map(stepFault)).toEqual([
      { kind: 'reset' },
      { kind: 'blackhole', durationMs: 500 },
      { kind: 'delay', delayMs: 100, jitterMs: 20, durationMs: 1000 },
      { kind: 'refuse', durationMs: 2000 },
      { kind: 'drop' },
    ]);
  });

  it('refuses a bad step with its number, the field and what is allowed', () => {
    const refusals: [unknown, string][] = [
      [{ steps: [] }, 'a schedule is a JSON array of steps like {"atMs": 1000, "fault": "reset"}, got {"steps":[]}'],
      [
        [
          { atMs: 0, fault: 'reset' },
          { at: 5, fault: 'drop' },
        ],
        'step 2 has unknown field "at": the fields are atMs, fault, target, durationMs, delayMs, jitterMs',
      ],
      [[{ atMs: -1, fault: 'drop' }], 'step 1: "atMs" must be a number of milliseconds of at least 0, got -1'],
      [[{ atMs: 0, fault: 'delay' }], 'step 1: "delayMs" must be a number of milliseconds of at least 0, got nothing'],
      [
        [{ atMs: 0, fault: 'reset', durationMs: 100 }],
        'step 1: a reset is instant and has no "durationMs": leave it out',
      ],
      [
        [{ atMs: 0, fault: 'refuse', target: 'one' }],
        'step 1: refuse stops the listener, it has no connection to pick: leave "target" out',
      ],
      [[{ atMs: 0, fault: 'drop', target: 'some' }], 'step 1: "target" must be "all" or "one", got "some"'],
    ];
    for (const [value, message] of refusals) expect(() => parseSchedule(value)).toThrow(message);
  });
});

describe('fault weights', () => {
  it('reads a mix, and refuses an unknown kind or an all-zero mix', () => {
    expect(parseFaultWeights('reset=3, drop=1,blackhole=0.5')).toEqual({ reset: 3, drop: 1, blackhole: 0.5 });
    expect(() => parseFaultWeights('reset=0,drop=0')).toThrow(
      'no fault has a weight above 0 in "reset=0,drop=0": give at least one, like reset=1',
    );
    expect(() => parseFaultWeights('delay=1')).toThrow('"delay" is not a random fault');
  });
});

describe('seeded randomness', () => {
  it('forks streams that depend only on the seed and the fork order', () => {
    const draws = (seed: number) => {
      const root = FaultRandom.fromSeed(seed);
      const [a, b] = [root.fork(), root.fork()];
      return [a.float(), a.float(), b.float(), b.exponential(100), b.pick({ reset: 1, drop: 1 })];
    };
    expect(draws(9)).toEqual(draws(9));
    expect(draws(9)).not.toEqual(draws(10));
    const [a1, a2, b1] = draws(9) as number[];
    expect(new Set([a1, a2, b1]).size).toBe(3);
  });

  it('picks kinds in proportion to their weights, and never one weighted 0', () => {
    const random = FaultRandom.fromSeed(1);
    const counts = { reset: 0, drop: 0, blackhole: 0 };
    for (let i = 0; i < 4000; i++) counts[random.pick({ reset: 3, drop: 1, blackhole: 0 })]++;
    expect(counts.blackhole).toBe(0);
    expect(counts.reset / counts.drop).toBeGreaterThan(2.5);
    expect(counts.reset / counts.drop).toBeLessThan(3.5);
  });
});

/** Scenario files: the schema's errors, the rate schedule of phases and ramps, the payment mix. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { loadScenario, parseScenario, speedUp } from '../../tools/fleet/scenario.ts';
import { RateSchedule } from '../../tools/fleet/schedule.ts';
import { amountDrawer, languagesOf, PaymentMix } from '../../tools/fleet/mix.ts';
import { planGroups } from '../../tools/fleet/network.ts';

const SCENARIOS = path.resolve(import.meta.dirname, '../../scenarios');

describe('scenario files', () => {
  it('the shipped examples parse', () => {
    const files = fs.readdirSync(SCENARIOS).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.sort()).toEqual(['flaky-4g-town.yaml', 'lunch-rush.yaml', 'market-day-burst.yaml']);
    for (const f of files) expect(loadScenario(path.join(SCENARIOS, f)).schedule.total).toBeGreaterThan(0);
  });

  it.each([
    ['phases: []', /phases: a scenario needs at least one phase/],
    ['phases: [{ duration: 10s, ramp: { from: 5, to: fast } }]', /phases\[0\]\.ramp\.to: .*number/],
    ['phases: [{ duration: 10s }]', /phases\[0\]: give a phase either "rate: 5".*or "ramp/],
    ['phases: [{ duration: soon, rate: 5 }]', /phases\[0\]\.duration: expected a duration like 30s.*"soon"/],
    [
      'phases: [{ duration: 1s, rate: 5 }]\nlanguages: { fr-FR: 1 }',
      /languages\.fr-FR: unknown language "fr-FR": use .*zh-CN/,
    ],
    [
      'phases: [{ duration: 1s, rate: 5 }]\noffline: [{ share: 1.5, at: 1s, for: 1s }]',
      /offline\[0\]\.share: .*at most 1/,
    ],
    [
      'phases: [{ duration: 1s, rate: 5 }]\namounts: { distribution: gamma }',
      /amounts\.distribution: .*fixed, uniform, log-normal or list/,
    ],
    ['phases: [{ duration: 1s, rate: 5 }]\nspeed: 3', /the top level: unknown field "speed"/],
    [
      'phases: [{ duration: 1s, rate: 5 }]\noffline: [{ share: 0.6, at: 1s, for: 1s }]\nstorms: [{ share: 0.5, at: 1s }]',
      /offline\[0\]\.share \+ storms\[0\]\.share = 1\.1: .*at most 1/,
    ],
    ['phases: [{ duration: 1s, rate: 5 }\n', /not valid YAML/],
  ])('%s is refused with the place and what belongs there', (text, message) => {
    expect(() => parseScenario(text, 'bad.yaml')).toThrow(message);
    expect(() => parseScenario(text, 'bad.yaml')).toThrow(/^bad\.yaml/);
  });

  it('reads JSON too, and --speed divides durations and moments but not rates', () => {
    const s = parseScenario(
      JSON.stringify({ phases: [{ duration: '60s', rate: 10 }], offline: [{ share: 0.1, at: '20s', for: '10s' }] }),
      'day.json',
    );
    expect(s.name).toBe('day');
    const fast = speedUp(s, 10);
    expect([fast.schedule.durationMs, fast.offline[0]!.at, fast.offline[0]!.for]).toEqual([6000, 2000, 1000]);
    expect(fast.schedule.total).toBe(60);
  });
});

describe('RateSchedule', () => {
  it('spaces a ramp so the rate climbs from 5/s to 50/s, each payment due once', () => {
    const s = new RateSchedule([
      { name: 'flat', durationMs: 2000, from: 5, to: 5 },
      { name: 'ramp', durationMs: 4000, from: 5, to: 50 },
    ]);
    expect(s.total).toBe(10 + 110);
    expect([s.dueAt(0), s.dueAt(9), s.dueAt(10)]).toEqual([0, 1800, 2000]);
    const gaps = [11, 60, 118].map((seq) => s.dueAt(seq + 1) - s.dueAt(seq));
    expect(gaps[0]).toBeGreaterThan(gaps[1]!); // closer together as the rate climbs
    expect(gaps[2]).toBeCloseTo(1000 / 50, -0.5);
    for (let seq = 1; seq < s.total; seq++) expect(s.dueAt(seq)).toBeGreaterThanOrEqual(s.dueAt(seq - 1));
    expect(s.dueBy(5999)).toBe(120);
  });
});

describe('payment mix', () => {
  it('draws integer minor units from each distribution, within the currency', () => {
    const rng = xoroshiro128plus(1);
    const draw = (spec: Parameters<typeof amountDrawer>[0], currency = 'CNY') => {
      const f = amountDrawer(spec, currency);
      return Array.from({ length: 2000 }, () => f(rng));
    };
    expect(new Set(draw({ distribution: 'fixed', value: '12.50' }))).toEqual(new Set([1250]));
    const uniform = draw({ distribution: 'uniform', min: '1', max: '2' });
    expect(Math.min(...uniform)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...uniform)).toBeLessThanOrEqual(200);
    const logNormal = draw({ distribution: 'log-normal', median: '28.00', sigma: 0.6 }).sort((a, b) => a - b);
    expect(logNormal[1000]).toBeGreaterThan(2500);
    expect(logNormal[1000]).toBeLessThan(3100);
    expect(logNormal.every(Number.isInteger)).toBe(true);
    const list = draw(
      {
        distribution: 'list',
        values: [
          { value: '10', weight: 3 },
          { value: '50', weight: 1 },
        ],
      },
      'INR',
    );
    const tens = list.filter((a) => a === 1000).length;
    expect(tens / list.length).toBeGreaterThan(0.7);
    expect(tens / list.length).toBeLessThan(0.8);
    expect(() => amountDrawer({ distribution: 'fixed', value: '1.5' }, 'JPY')).toThrow(/amounts\.value: .*JPY/);
  });

  it("gives each speaker a language by share and each payment its speaker's currency and a channel from the mix", () => {
    const langs = languagesOf(100, { 'zh-CN': 7, 'en-US': 3 }, 'hi-IN');
    expect(langs.filter((l) => l === 'zh-CN').length).toBeGreaterThan(65);
    expect(langs.filter((l) => l === 'zh-CN').length).toBeLessThan(75);
    const mix = new PaymentMix(langs, { channels: { alipay: 1 } });
    const rng = xoroshiro128plus(2);
    for (let i = 0; i < 50; i++) {
      const d = mix.draw(rng);
      expect(d.currency).toBe(langs[d.device] === 'zh-CN' ? 'CNY' : 'USD');
      expect(d.channel).toBe('alipay');
    }
  });

  it('cuts disjoint groups of the fleet for offline, storms and faults, drawn by seed', () => {
    const specs = [
      { kind: 'offline', share: 0.1, atMs: 0, forMs: 1 },
      { kind: 'storm', share: 0.3, atMs: 0, fault: 'reset' },
    ] as const;
    const { groups, routes } = planGroups(50, specs, 7);
    expect(groups.map((g) => g.devices.length)).toEqual([5, 15]);
    expect(new Set([...groups[0]!.devices, ...groups[1]!.devices]).size).toBe(20);
    expect(routes.filter((r) => r === 2).length).toBe(15);
    expect(planGroups(50, specs, 7).groups[0]!.devices).toEqual(groups[0]!.devices);
  });
});

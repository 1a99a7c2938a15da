/**
 * `fleet --scenario FILE`: a day in the life of a fleet, written down (YAML or JSON) and
 * checked against a schema before anything starts. docs/FLEET.md describes every field with
 * examples; scenarios/ holds three. An error names the place in the file and what belongs
 * there, e.g. `phases[1].ramp.to: expected a number above 0, got "fast"`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { CHANNELS, type Channel } from '../../src/protocol/index.ts';
import { LANGUAGES, type Language } from '../../src/speech/index.ts';
import { RANDOM_FAULT_KINDS } from '../chaos/faults.ts';
import { RateSchedule } from './schedule.ts';

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s", "500ms", "2m", or a number of seconds. */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = typeof v === 'number' ? [String(v), String(v), 's'] : /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2] ?? 's']! : NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 30s, 500ms or 2m, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return Math.round(ms);
});

const positive = z.number({ error: (i) => `expected a number, got ${JSON.stringify(i.input)}` }).positive({
  error: (i) => `expected a number above 0, got ${JSON.stringify(i.input)}`,
});
const share = z
  .number({ error: (i) => `expected a share of the fleet between 0 and 1, got ${JSON.stringify(i.input)}` })
  .gt(0, { error: 'expected a share of the fleet above 0 (0.1 is a tenth)' })
  .lte(1, { error: 'expected a share of the fleet of at most 1 (0.1 is a tenth)' });
/** An amount in major units, as text ("12.50") or a number (12.5); checked against each currency's decimals later. */
const money = z.union([z.string(), z.number()]).transform((v) => String(v));
/** `{ zh-CN: 7, en-US: 3 }`: relative weights, each key one of `keys`. */
const weights = <K extends string>(keys: readonly K[], what: string) =>
  z.record(z.string(), positive).transform((r, ctx) => {
    for (const k of Object.keys(r))
      if (!(keys as readonly string[]).includes(k))
        ctx.addIssue({ code: 'custom', path: [k], message: `unknown ${what} "${k}": use ${keys.join(', ')}` });
    return r as Partial<Record<K, number>>;
  });

const phase = z
  .strictObject({
    name: z.string().optional(),
    duration,
    rate: z.number().min(0, { error: 'expected payments per second, 0 or more' }).optional(),
    ramp: z
      .strictObject({
        from: z.number().min(0, { error: 'expected payments per second, 0 or more' }),
        to: z.number().min(0, { error: 'expected payments per second, 0 or more' }),
      })
      .optional(),
  })
  .refine((p) => (p.rate === undefined) !== (p.ramp === undefined), {
    error: 'give a phase either "rate: 5" (payments per second) or "ramp: { from: 5, to: 50 }", not both or neither',
  })
  .refine((p) => p.duration > 0, { error: 'a phase needs a duration above 0', path: ['duration'] });

const amounts = z.discriminatedUnion(
  'distribution',
  [
    z.strictObject({ distribution: z.literal('fixed'), value: money }),
    z.strictObject({ distribution: z.literal('uniform'), min: money, max: money }),
    z.strictObject({ distribution: z.literal('log-normal'), median: money, sigma: positive }),
    z.strictObject({
      distribution: z.literal('list'),
      values: z.array(z.strictObject({ value: money, weight: positive })).min(1),
    }),
  ],
  { error: 'expected "distribution": fixed, uniform, log-normal or list' },
);

const offline = z.strictObject({ share, at: duration, for: duration });
const storm = z.strictObject({ share, at: duration, fault: z.enum(['reset', 'drop']).default('reset') });
const chaos = z.strictObject({
  share,
  meanFaultAfter: duration,
  faults: weights(RANDOM_FAULT_KINDS, 'fault').optional(),
  /** A black hole holds the link this long; without a bound the speaker would be deaf until its keep-alive gives up. */
  blackholeFor: duration.default(3000),
});
const buttons = z.strictObject({
  press: z.enum(['replay', 'summary', 'volume-up', 'volume-down']),
  /** Presses per second, across the fleet. */
  rate: positive,
});

const scenarioSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  devices: z.number().int().positive().optional(),
  seed: z.number().int().min(0).optional(),
  languages: weights(LANGUAGES, 'language').optional(),
  channels: weights(CHANNELS, 'channel').optional(),
  amounts: amounts.optional(),
  phases: z.array(phase).min(1, { error: 'a scenario needs at least one phase' }),
  offline: z.array(offline).default([]),
  storms: z.array(storm).default([]),
  chaos: chaos.optional(),
  buttons: z.array(buttons).default([]),
  drain: duration.optional(),
  expect: z
    .strictObject({
      lost: z.number().int().min(0).default(0),
      duplicates: z.number().int().min(0).default(0),
      /** Each ramp's last seconds heard at this share of its final rate or more (0.8: 80 %). */
      rampReached: share.optional(),
      /** Every payment sent to an offline speaker is heard after it comes back. */
      offlineCaughtUp: z.boolean().default(true),
    })
    .default({ lost: 0, duplicates: 0, offlineCaughtUp: true }),
});

export type ScenarioFile = z.infer<typeof scenarioSchema>;
export type AmountSpec = NonNullable<ScenarioFile['amounts']>;
export type ButtonName = ScenarioFile['buttons'][number]['press'];

export interface Scenario extends Omit<ScenarioFile, 'name' | 'languages' | 'channels'> {
  name: string;
  file: string;
  languages?: Partial<Record<Language, number>>;
  channels?: Partial<Record<Channel, number>>;
  schedule: RateSchedule;
}

/** Reads, parses and validates a scenario file; throws a ScenarioError that names the file, the place and the fix. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ScenarioError(
      `--scenario ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message} (the examples are in scenarios/)`,
    );
  }
  return parseScenario(text, file);
}

export function parseScenario(text: string, file: string): Scenario {
  const raw = /\.json$/i.test(file) ? parseJson(text, file) : parseYaml(text, file);
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? formatPath(issue.path) : 'the top level';
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message;
    throw new ScenarioError(`${file}: ${where}: ${message} (docs/FLEET.md describes every field)`);
  }
  const s = parsed.data;
  checkShares(s, file);
  const scenario = { ...s, name: s.name ?? path.basename(file).replace(/\.[^.]+$/, ''), file, schedule: scheduleOf(s) };
  if (scenario.schedule.total === 0)
    throw new ScenarioError(`${file}: phases: every phase has rate 0, so nothing would be sent`);
  return scenario;
}

function scheduleOf(s: Pick<ScenarioFile, 'phases'>): RateSchedule {
  return new RateSchedule(
    s.phases.map((p, i) => ({
      name: p.name ?? `phase ${i + 1}`,
      durationMs: p.duration,
      from: p.ramp?.from ?? p.rate!,
      to: p.ramp?.to ?? p.rate!,
    })),
  );
}

/**
 * The same day played `factor` times faster (`--speed`): every duration and moment divided by
 * it, rates, shares and mixes unchanged, so a ten-minute scenario can be tried in thirty
 * seconds (and tested in a few). The drain is not shortened: it waits for reconnecting
 * speakers, whose backoff runs on real time.
 */
export function speedUp(s: Scenario, factor: number): Scenario {
  if (factor === 1) return s;
  const t = (ms: number) => Math.max(1, Math.round(ms / factor));
  const phases = s.phases.map((p) => ({ ...p, duration: t(p.duration) }));
  return {
    ...s,
    phases,
    offline: s.offline.map((o) => ({ ...o, at: t(o.at), for: t(o.for) })),
    storms: s.storms.map((o) => ({ ...o, at: t(o.at) })),
    ...(s.chaos && {
      chaos: { ...s.chaos, meanFaultAfter: t(s.chaos.meanFaultAfter), blackholeFor: t(s.chaos.blackholeFor) },
    }),
    schedule: scheduleOf({ phases }),
  };
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  const [error] = doc.errors;
  if (error) throw new ScenarioError(`${file} is not valid YAML: ${error.message.split('\n')[0]}`);
  return doc.toJS();
}

/** ['phases', 1, 'ramp', 'to'] → phases[1].ramp.to */
function formatPath(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('');
}

/** Offline, storm and chaos groups are disjoint slices of the fleet: a speaker has one way to the broker. */
function checkShares(s: ScenarioFile, file: string): void {
  const parts = [
    ...s.offline.map((o, i) => [`offline[${i}].share`, o.share] as const),
    ...s.storms.map((o, i) => [`storms[${i}].share`, o.share] as const),
    ...(s.chaos ? [['chaos.share', s.chaos.share] as const] : []),
  ];
  const total = parts.reduce((a, [, v]) => a + v, 0);
  if (total > 1 + 1e-9)
    throw new ScenarioError(
      `${file}: ${parts.map(([k]) => k).join(' + ')} = ${Number(total.toFixed(3))}: each names its own speakers, so together they can be at most 1`,
    );
}

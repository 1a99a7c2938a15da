/**
 * What a fleet's payments look like and who gets them: each speaker's language (a mix, by
 * share of the fleet), each payment's speaker (uniform), channel (a mix, or the language's
 * usual one), currency (the language's) and amount (a distribution). Amounts become integer
 * minor units at once: a log-normal draw is a real number, rounded to a whole minor unit and
 * clamped to what a speaker reads, so nothing after this file sees a float.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import type { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { maxMinorUnits, parseAmount, type Channel } from '../../src/protocol/index.ts';
import type { Language } from '../../src/speech/index.ts';
import type { AmountSpec } from './scenario.ts';

export type RandomGenerator = ReturnType<typeof xoroshiro128plus>;

/** What a merchant in each language is typically paid in, and through which app. */
export const MONEY: Record<Language, { currency: string; channel: Channel }> = {
  'zh-CN': { currency: 'CNY', channel: 'wechat' },
  'en-US': { currency: 'USD', channel: 'generic' },
  'hi-IN': { currency: 'INR', channel: 'paytm' },
};

export interface PaymentDraw {
  device: number;
  amount: number;
  currency: string;
  channel: Channel;
}

export interface MixSpec {
  /** Channel weights; absent: each speaker's language's usual channel. */
  channels?: Partial<Record<Channel, number>>;
  /** Absent: uniform over 0.01-99,999.99 in minor units, as fleets always drew. */
  amounts?: AmountSpec;
}

type Weighted<T> = { value: T; weight: number }[];

function pickWeighted<T>(rng: RandomGenerator, items: Weighted<T>): T {
  const total = items.reduce((a, i) => a + i.weight, 0);
  let x = uniformFloat64(rng) * total;
  for (const i of items) if ((x -= i.weight) < 0) return i.value;
  return items[items.length - 1]!.value;
}

const entries = <K extends string>(r: Partial<Record<K, number>>): Weighted<K> =>
  (Object.entries(r) as [K, number][]).map(([value, weight]) => ({ value, weight }));

/** A standard normal draw (Box-Muller). */
function normal(rng: RandomGenerator): number {
  const u = 1 - uniformFloat64(rng); // (0, 1]: log(0) never happens
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniformFloat64(rng));
}

export class PaymentMix {
  private readonly channels: Weighted<Channel> | null;
  /** Per currency: a function drawing an amount in its minor units. */
  private readonly amountIn = new Map<string, (rng: RandomGenerator) => number>();

  constructor(
    /** Each device's language, by index. */
    private readonly langs: readonly Language[],
    private readonly spec: MixSpec = {},
  ) {
    this.channels = spec.channels ? entries(spec.channels) : null;
    // Checked now, for every currency in play: a bad amount fails before the run, not mid-way.
    for (const lang of new Set(langs)) this.amountDrawer(MONEY[lang].currency);
  }

  draw(rng: RandomGenerator): PaymentDraw {
    const device = uniformInt(rng, 0, this.langs.length - 1);
    const money = MONEY[this.langs[device]!];
    const amount = this.amountDrawer(money.currency)(rng);
    const channel = this.channels ? pickWeighted(rng, this.channels) : money.channel;
    return { device, amount, currency: money.currency, channel };
  }

  private amountDrawer(currency: string): (rng: RandomGenerator) => number {
    let f = this.amountIn.get(currency);
    if (!f) {
      f = amountDrawer(this.spec.amounts, currency);
      this.amountIn.set(currency, f);
    }
    return f;
  }
}

/** Throws a RangeError naming the amount that does not fit the currency (e.g. "12.345" in CNY). */
export function amountDrawer(spec: AmountSpec | undefined, currency: string): (rng: RandomGenerator) => number {
  const minor = (text: string, field: string) => {
    try {
      return parseAmount(text, currency);
    } catch (err) {
      throw new RangeError(`amounts.${field}: ${(err as Error).message}`, { cause: err });
    }
  };
  const top = maxMinorUnits(currency);
  switch (spec?.distribution) {
    case undefined:
      return (rng) => uniformInt(rng, 1, Math.min(top, 9_999_999));
    case 'fixed': {
      const v = minor(spec.value, 'value');
      return () => v;
    }
    case 'uniform': {
      const [lo, hi] = [minor(spec.min, 'min'), minor(spec.max, 'max')];
      if (hi < lo) throw new RangeError(`amounts: max ${spec.max} is below min ${spec.min}`);
      return (rng) => uniformInt(rng, lo, hi);
    }
    case 'log-normal': {
      const median = minor(spec.median, 'median');
      return (rng) => Math.min(top, Math.max(1, Math.round(median * Math.exp(spec.sigma * normal(rng)))));
    }
    case 'list': {
      const items = spec.values.map((v, i) => ({ value: minor(v.value, `values[${i}].value`), weight: v.weight }));
      return (rng) => pickWeighted(rng, items);
    }
  }
}

/**
 * Each device's language: shares of the fleet in the order given (70 % zh-CN, then 30 %
 * en-US), spread over the device ids by a stride so that every worker's slice gets the mix.
 */
export function languagesOf(
  devices: number,
  mix: Partial<Record<Language, number>> | undefined,
  fallback: Language,
): Language[] {
  if (!mix) return new Array<Language>(devices).fill(fallback);
  const items = entries(mix);
  const total = items.reduce((a, i) => a + i.weight, 0);
  const out: Language[] = [];
  // Device i gets the language whose cumulative share first exceeds frac(i·φ): a low-discrepancy
  // sequence, so any run of consecutive ids (a worker's slice, a small fleet) gets close to the mix.
  for (let i = 0; i < devices; i++) {
    const x = (i * 0.6180339887498949) % 1;
    let acc = 0;
    out.push(items.find((it) => (acc += it.weight / total) > x)?.value ?? items[items.length - 1]!.value);
  }
  return out;
}

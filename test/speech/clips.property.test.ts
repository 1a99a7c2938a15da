/**
 * Properties of clips and vocabularies, for every language and any message:
 *   - every clip key of an utterance is in the language's vocabulary, except the name of a
 *     currency outside the language's own table (taken from Intl/CLDR: an open set that voice
 *     packs do not record by design; a pack missing a clip synthesises the whole sentence);
 *   - the clips, joined, say exactly the text (Chinese: concatenated; English and Hindi: with
 *     spaces), punctuation aside, since a voice pack pauses between clips anyway;
 *   - vocabularies have unique keys, a stable order, and no clip that nothing ever says.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHANNELS, KINDS } from '../../src/protocol/channels.ts';
import { maxMinorUnits, minorDigits } from '../../src/protocol/money.ts';
import { EN_UNIT_CURRENCIES, enCldrName } from '../../src/speech/currencies/en.ts';
import { HI_UNIT_CURRENCIES, hiCldrName } from '../../src/speech/currencies/hi.ts';
import { ZH_WORD_CURRENCIES, zhCurrencyWord } from '../../src/speech/currencies/zh.ts';
import {
  LANGUAGES,
  utter,
  vocabulary,
  type Language,
  type Message,
  type Prompt,
  type Total,
} from '../../src/speech/index.ts';

interface OpenSet {
  /** Currencies whose names the language's own table holds (recorded in its voice pack). */
  table: readonly string[];
  /** The clip keys a currency outside that table may be said with. */
  names(currency: string): string[];
}

const OPEN: Record<Language, OpenSet> = {
  'zh-CN': { table: ZH_WORD_CURRENCIES, names: (c) => [zhCurrencyWord(c)] },
  'en-US': {
    table: EN_UNIT_CURRENCIES,
    names: (c) => [enCldrName(c, 1), enCldrName(c, 2)].map((n) => n.toLowerCase()),
  },
  'hi-IN': {
    table: HI_UNIT_CURRENCIES,
    names: (c) => [hiCldrName(c, false), hiCldrName(c, true)].map((n) => n.toLowerCase()),
  },
};

const PROMPT_LIST: Prompt[] = [
  'power-on',
  'network-connected',
  'network-lost',
  'volume-max',
  'volume-min',
  'no-records',
  'low-battery',
];

/** Table currencies of every language, plus some in none (CLDR names) and some with 0 or 3 decimals. */
const CURRENCIES = [
  ...new Set([...ZH_WORD_CURRENCIES, ...EN_UNIT_CURRENCIES, ...HI_UNIT_CURRENCIES, 'CHF', 'KWD', 'LKR', 'BHD', 'ZAR']),
];

/** Amounts from the whole range, and zero-rich ones (where 零, "and", और and the grouping rules live). */
const money: fc.Arbitrary<Total> = fc.constantFrom(...CURRENCIES).chain((currency) =>
  fc
    .oneof(
      fc.integer({ min: 1, max: maxMinorUnits(currency) }),
      fc
        .array(fc.constantFrom(0, 0, 0, 1, 2, 5, 9), { minLength: 1, maxLength: 11 + minorDigits(currency) })
        .map((digits) => Math.max(1, Number(digits.join('')))),
    )
    .map((amount) => ({ amount, currency })),
);

const message: fc.Arbitrary<Message> = fc.oneof(
  fc
    .record({ channel: fc.constantFrom(...CHANNELS), kind: fc.constantFrom(...KINDS), money, replay: fc.boolean() })
    .map(({ channel, kind, money: { amount, currency }, replay }): Message => ({
      type: 'payment',
      payment: { amount, currency, channel, kind },
      ...(replay ? { replay } : {}),
    })),
  fc.constantFrom(...PROMPT_LIST).map((prompt): Message => ({ type: 'prompt', prompt })),
  fc
    .record({
      scope: fc.constantFrom('today', 'offline', 'burst'),
      count: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 10_000_000 })),
      totals: fc.uniqueArray(money, { maxLength: 3, selector: (t) => t.currency }),
    })
    .map((s): Message => ({ type: 'summary', ...s })),
  fc.integer({ min: 0, max: 100 }).map((percent): Message => ({ type: 'battery', percent })),
);

/** Currencies a message names. */
function currenciesOf(m: Message): string[] {
  if (m.type === 'payment') return [m.payment.currency];
  if (m.type === 'summary') return m.totals.map((t) => t.currency);
  return [];
}

/** Text as heard: lower case, punctuation and hyphens as word breaks, single spaces. */
function heard(text: string, lang: Language): string {
  const words = text.toLowerCase().replace(/[,:;.!?，。：、-]/g, ' ');
  return lang === 'zh-CN' ? words.replace(/\s+/g, '') : words.replace(/\s+/g, ' ').trim();
}

describe.each(LANGUAGES)('%s clips', (lang) => {
  const clips = vocabulary(lang);
  const byKey = new Map(clips.map((c) => [c.key, c]));

  it('has unique keys and the same order on every call', () => {
    expect(new Set(clips.map((c) => c.key)).size).toBe(clips.length);
    expect(vocabulary(lang)).toEqual(clips);
  });

  it('utters only vocabulary clips, apart from currency names outside the table', () => {
    fc.assert(
      fc.property(message, (m) => {
        const open = new Set(
          currenciesOf(m)
            .filter((c) => !OPEN[lang].table.includes(c))
            .flatMap((c) => OPEN[lang].names(c)),
        );
        const missing = utter(m, lang).clips.filter((key) => !byKey.has(key));
        for (const key of missing) expect(open, `clip ${JSON.stringify(key)} of ${JSON.stringify(m)}`).toContain(key);
      }),
      { numRuns: 3000 },
    );
  });

  it('joins its clips into its text', () => {
    const separator = lang === 'zh-CN' ? '' : ' ';
    fc.assert(
      fc.property(message, (m) => {
        const { text, clips: keys } = utter(m, lang);
        const joined = keys.map((key) => byKey.get(key)?.text ?? key).join(separator);
        expect(heard(joined, lang)).toBe(heard(text, lang));
      }),
      { numRuns: 3000 },
    );
  });

  it('has no clip that nothing says', () => {
    const said = new Set<string>();
    const say = (m: Message): void => utter(m, lang).clips.forEach((k) => said.add(k));
    PROMPT_LIST.forEach((prompt) => say({ type: 'prompt', prompt }));
    for (let percent = 0; percent <= 100; percent++) say({ type: 'battery', percent });
    for (const scope of ['today', 'offline', 'burst'] as const) {
      for (const count of [1, 2]) say({ type: 'summary', scope, count, totals: [{ amount: 100, currency: 'CNY' }] });
    }
    const pay = (
      amount: number,
      currency: string,
      channel: (typeof CHANNELS)[number] = 'generic',
      kind: (typeof KINDS)[number] = 'payment',
    ): void => say({ type: 'payment', payment: { amount, currency, channel, kind } });
    for (const channel of CHANNELS)
      for (const kind of KINDS) for (const amount of [100, 200]) pay(amount, 'CNY', channel, kind);
    // Every table currency, singular and plural, major and minor.
    for (const currency of OPEN[lang].table) {
      const scale = 10 ** minorDigits(currency);
      for (const amount of [scale, 2 * scale, 1, 2, scale + 1]) pay(amount, currency);
    }
    // Numbers: 两 and the large units (Chinese), the scale words and "point"/दशमलव (an unlisted currency).
    for (const major of [2000, 20000, 200_000_000, 1_010_101_100]) pay(major * 100 + 50, 'CHF');
    // A replayed payment opens with its prefix (重复播报, "Repeat", दोबारा).
    say({
      type: 'payment',
      payment: { amount: 100, currency: 'CNY', channel: 'wechat', kind: 'payment' },
      replay: true,
    });
    const unsaid = clips.filter((c) => !said.has(c.key));
    expect(unsaid).toEqual([]);
  });
});

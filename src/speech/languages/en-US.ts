/**
 * American English: "Received one hundred twenty-three yuan and forty-five fen on WeChat Pay",
 * "Refunded fifty paise on Paytm"; a generic payment names no channel ("Received ten dollars").
 *
 * Clips: one per word, a hyphenated ten as two ("twenty", "three"), and fixed phrases as one
 * ("on WeChat Pay", each prompt). A clip's key is its text in lower case.
 */
import { CHANNELS, type Channel } from '../../protocol/channels.ts';
import { minorDigits, splitMinor } from '../../protocol/money.ts';
import { clipsOf, Composer, type ClipStyle } from '../compose.ts';
import { EN_TABLE_UNIT_WORDS, enCldrName, enCurrencyUnits, type UnitName } from '../currencies/en.ts';
import { checkBattery, isEmptySummary, PROMPTS, unknownMessage } from '../messages.ts';
import { EN_NUMBER_WORDS, enFractionDigits, enInteger } from '../numbers/en.ts';
import type { Message, Prompt, SpeechLanguage, Total } from '../types.ts';

const STYLE: ClipStyle = { space: ' ', key: (text) => text.toLowerCase() };

const CHANNEL_NAMES: Readonly<Record<Channel, string | undefined>> = {
  wechat: 'WeChat Pay',
  alipay: 'Alipay',
  unionpay: 'UnionPay',
  paytm: 'Paytm',
  phonepe: 'PhonePe',
  gpay: 'Google Pay',
  generic: undefined,
};

const PROMPT_TEXTS: Readonly<Record<Prompt, string>> = {
  'power-on': 'Power on',
  'network-connected': 'Network connected',
  'network-lost': 'Network lost',
  'volume-max': 'Maximum volume',
  'volume-min': 'Minimum volume',
  'no-records': 'No payment records',
  'low-battery': 'Battery low, please charge',
};

/** Opening phrase per summary scope, followed by a colon: "Today: three payments, total …". */
const SCOPES = { today: 'Today', offline: 'While offline', burst: 'In a row' } as const;

const VERBS = { payment: 'Received', refund: 'Refunded' } as const;

/** Said before a payment read out again (the replay button): "Repeat: Received one dollar". */
const REPLAY = 'Repeat';

/** Number words as clips: "twenty-three" is written hyphenated but recorded as two clips. */
function numberWords(out: Composer, words: string): void {
  for (const word of words.split(' ')) {
    const [first, ...rest] = word.split('-');
    out.clip(first!);
    for (const part of rest) out.clip(part, '-');
  }
}

/** "one dollar", "two dollars", "zero dollars". */
function count(out: Composer, n: number, name: UnitName): void {
  numberWords(out, enInteger(n));
  out.clip(n === 1 ? name.one : name.other);
}

/**
 * Major and minor units each with their own name, the way Americans say prices: "twelve dollars
 * and fifty cents". A zero part is not spoken ("five cents", "one hundred dollars").
 */
function withUnits(out: Composer, major: number, minor: number, majorName: UnitName, minorName: UnitName): void {
  if (minor === 0) return count(out, major, majorName);
  if (major === 0) return count(out, minor, minorName);
  count(out, major, majorName);
  out.clip('and');
  count(out, minor, minorName);
}

/**
 * For a currency whose minor unit we cannot name: a decimal number and CLDR's plural name,
 * "twelve point five Swiss francs" (decimals digit by digit, trailing zeros dropped). The CLDR
 * name is one clip that no voice pack holds: the open set of currencies is left to TTS.
 */
function asDecimal(out: Composer, major: number, fraction: string, currency: string): void {
  numberWords(out, enInteger(major));
  const decimals = enFractionDigits(fraction);
  if (decimals === '') {
    out.clip(enCldrName(currency, major));
    return;
  }
  out.clip('point');
  numberWords(out, decimals);
  out.clip(enCldrName(currency, 2));
}

function amount(out: Composer, money: Total): void {
  const { major, fraction } = splitMinor(money);
  const units = enCurrencyUnits(money.currency);
  if (units !== undefined && minorDigits(money.currency) === 0) return count(out, major, units.major);
  if (units?.minor !== undefined) return withUnits(out, major, Number(fraction), units.major, units.minor);
  asDecimal(out, major, fraction, money.currency);
}

function say(m: Message): Composer {
  const out = new Composer(STYLE);
  switch (m.type) {
    case 'payment': {
      if (m.replay) out.clip(REPLAY).pause(':');
      out.clip(VERBS[m.payment.kind]);
      amount(out, m.payment);
      const channel = CHANNEL_NAMES[m.payment.channel];
      if (channel !== undefined) out.clip(`on ${channel}`);
      return out;
    }
    case 'prompt':
      return out.clip(PROMPT_TEXTS[m.prompt]);
    case 'battery':
      out.clip('Battery');
      numberWords(out, enInteger(checkBattery(m.percent)));
      return out.clip('percent');
    case 'summary': {
      if (isEmptySummary(m)) return out.clip(PROMPT_TEXTS['no-records']);
      out.clip(SCOPES[m.scope]).pause(':');
      numberWords(out, enInteger(m.count));
      out
        .clip(m.count === 1 ? 'payment' : 'payments')
        .pause(',')
        .clip('total');
      return out.list(m.totals, ',', amount);
    }
    default:
      return unknownMessage(m);
  }
}

function vocabulary(): string[] {
  return [
    ...Object.values(VERBS),
    ...CHANNELS.flatMap((c) => (CHANNEL_NAMES[c] === undefined ? [] : [`on ${CHANNEL_NAMES[c]}`])),
    ...EN_NUMBER_WORDS,
    'and',
    ...EN_TABLE_UNIT_WORDS,
    ...PROMPTS.map((p) => PROMPT_TEXTS[p]),
    ...Object.values(SCOPES),
    'payment',
    'payments',
    'total',
    'Battery',
    'percent',
    REPLAY,
  ];
}

export const enUS: SpeechLanguage = {
  code: 'en-US',
  say: (m) => say(m).done(),
  vocabulary: () => clipsOf(STYLE, vocabulary()),
};

/**
 * Hindi, as Paytm's soundboxes say it: channel, amount, verb — "Paytm पर एक सौ तेईस रुपये प्राप्त
 * हुए" ("Paytm par ek sau teis rupaye prapt hue"). Written in Devanagari because eSpeak NG's Hindi
 * voice reads Devanagari; brand names stay in Latin letters as printed on the QR stand.
 *
 *   - Paise after rupees with और: "एक रुपया और पचास पैसे"; a zero part is not spoken.
 *   - The verb agrees with the amount: "एक रुपया प्राप्त हुआ" (one unit), "… प्राप्त हुए" otherwise.
 *   - Refunds: "Paytm पर पचास रुपये रिफ़ंड हुए" — रिफ़ंड is the word Indian apps and shops use; the
 *     same shape as प्राप्त हुए keeps one sentence pattern.
 *   - Currencies without Hindi unit names: a decimal with दशमलव and CLDR's name ("बारह दशमलव पाँच
 *     स्विस फ़्रैंक").
 *
 * Clips: the channel with its postposition ("Paytm पर"), each number word (1–99 are irregular
 * words, one clip each; सौ हज़ार लाख करोड़ अरब), unit names, और, the verb, and fixed phrases. A
 * clip's key is its text in lower case (which only changes the brand names).
 */
import { CHANNELS, type Channel } from '../../protocol/channels.ts';
import { minorDigits, splitMinor } from '../../protocol/money.ts';
import { clipsOf, Composer, type ClipStyle } from '../compose.ts';
import { HI_TABLE_UNIT_WORDS, hiCldrName, hiCurrencyUnits, type UnitName } from '../currencies/hi.ts';
import { checkBattery, isEmptySummary, PROMPTS, unknownMessage } from '../messages.ts';
import { HI_NUMBER_WORDS, HI_POINT, hiFractionDigits, hiInteger } from '../numbers/hi.ts';
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

/** Verb by kind, singular (one unit of money) and plural. */
const VERBS = {
  payment: { one: 'प्राप्त हुआ', other: 'प्राप्त हुए' },
  refund: { one: 'रिफ़ंड हुआ', other: 'रिफ़ंड हुए' },
} as const satisfies Record<string, UnitName>;

/** Said before a payment read out again (the replay button): "दोबारा: Paytm पर एक रुपया प्राप्त हुआ" ("again: …"). */
const REPLAY = 'दोबारा';

const PROMPT_TEXTS: Readonly<Record<Prompt, string>> = {
  'power-on': 'आपका स्वागत है',
  'network-connected': 'नेटवर्क कनेक्ट हो गया',
  'network-lost': 'नेटवर्क डिस्कनेक्ट हो गया',
  'volume-max': 'वॉल्यूम अधिकतम',
  'volume-min': 'वॉल्यूम न्यूनतम',
  'no-records': 'कोई भुगतान रिकॉर्ड नहीं है',
  'low-battery': 'बैटरी कम है, कृपया चार्ज करें',
};

/** Opening phrase per summary scope: "आज तीन भुगतान, कुल …" (भुगतान does not change in the plural). */
const SCOPES = { today: 'आज', offline: 'ऑफ़लाइन रहते हुए', burst: 'लगातार' } as const;

/** "एक रुपया", "दो रुपये". Returns whether the amount was exactly one unit (for the verb). */
function count(out: Composer, n: number, name: UnitName): boolean {
  out.words(hiInteger(n)).clip(n === 1 ? name.one : name.other);
  return n === 1;
}

/** "बारह दशमलव पाँच स्विस फ़्रैंक": for currencies whose minor unit has no Hindi name. */
function asDecimal(out: Composer, major: number, fraction: string, name: (plural: boolean) => string): boolean {
  out.words(hiInteger(major));
  const decimals = hiFractionDigits(fraction);
  if (decimals !== '') out.clip(HI_POINT).words(decimals);
  const one = major === 1 && decimals === '';
  out.clip(name(!one));
  return one;
}

/** Says an amount with its unit names; returns whether it was exactly one unit ("एक रुपया"). */
function amount(out: Composer, money: Total): boolean {
  const { major, fraction } = splitMinor(money);
  const units = hiCurrencyUnits(money.currency);
  const minor = Number(fraction);
  if (units === undefined) return asDecimal(out, major, fraction, (plural) => hiCldrName(money.currency, plural));
  if (units.minor === undefined || minorDigits(money.currency) === 0) {
    return asDecimal(out, major, fraction, (plural) => (plural ? units.major.other : units.major.one));
  }
  if (minor === 0) return count(out, major, units.major);
  if (major === 0) return count(out, minor, units.minor);
  count(out, major, units.major);
  out.clip('और');
  count(out, minor, units.minor);
  return false;
}

function say(m: Message): Composer {
  const out = new Composer(STYLE);
  switch (m.type) {
    case 'payment': {
      if (m.replay) out.clip(REPLAY).pause(':');
      const channel = CHANNEL_NAMES[m.payment.channel];
      if (channel !== undefined) out.clip(`${channel} पर`);
      const one = amount(out, m.payment);
      const verb = VERBS[m.payment.kind];
      return out.clip(one ? verb.one : verb.other);
    }
    case 'prompt':
      return out.clip(PROMPT_TEXTS[m.prompt]);
    case 'battery':
      return out
        .clip('बैटरी')
        .words(hiInteger(checkBattery(m.percent)))
        .clip('प्रतिशत');
    case 'summary': {
      if (isEmptySummary(m)) return out.clip(PROMPT_TEXTS['no-records']);
      out.clip(SCOPES[m.scope]).words(hiInteger(m.count)).clip('भुगतान').pause(',').clip('कुल');
      return out.list(m.totals, ',', amount);
    }
    default:
      return unknownMessage(m);
  }
}

function vocabulary(): string[] {
  return [
    ...CHANNELS.flatMap((c) => (CHANNEL_NAMES[c] === undefined ? [] : [`${CHANNEL_NAMES[c]} पर`])),
    ...HI_NUMBER_WORDS,
    ...HI_TABLE_UNIT_WORDS,
    'और',
    ...Object.values(VERBS).flatMap((v) => [v.one, v.other]),
    ...PROMPTS.map((p) => PROMPT_TEXTS[p]),
    ...Object.values(SCOPES),
    'भुगतान',
    'कुल',
    'बैटरी',
    'प्रतिशत',
    REPLAY,
  ];
}

export const hiIN: SpeechLanguage = {
  code: 'hi-IN',
  say: (m) => say(m).done(),
  vocabulary: () => clipsOf(STYLE, vocabulary()),
};

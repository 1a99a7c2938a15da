/**
 * American English: "Received one hundred twenty-three yuan and forty-five fen on WeChat Pay",
 * "Refunded fifty paise on Paytm"; a generic payment names no channel ("Received ten dollars").
 */
import type { Channel } from '../../protocol/channels.ts';
import { minorDigits, splitMinor } from '../../protocol/money.ts';
import { enCldrName, enCurrencyUnits, type UnitName } from '../currencies/en.ts';
import { enFractionDigits, enInteger } from '../numbers/en.ts';
import type { Announcement, SpeechLanguage } from '../types.ts';

const CHANNEL_NAMES: Readonly<Record<Channel, string | undefined>> = {
  wechat: 'WeChat Pay',
  alipay: 'Alipay',
  unionpay: 'UnionPay',
  paytm: 'Paytm',
  phonepe: 'PhonePe',
  gpay: 'Google Pay',
  generic: undefined,
};

/** "one dollar", "two dollars", "zero dollars". */
function count(n: number, name: UnitName): string {
  return `${enInteger(n)} ${n === 1 ? name.one : name.other}`;
}

/**
 * Major and minor units each with their own name, the way Americans say prices: "twelve dollars
 * and fifty cents". A zero part is not spoken ("five cents", "one hundred dollars").
 */
function withUnits(major: number, minor: number, majorName: UnitName, minorName: UnitName): string {
  if (minor === 0) return count(major, majorName);
  if (major === 0) return count(minor, minorName);
  return `${count(major, majorName)} and ${count(minor, minorName)}`;
}

/**
 * For a currency whose minor unit we cannot name: a decimal number and CLDR's plural name,
 * "twelve point five Swiss francs" (decimals digit by digit, trailing zeros dropped).
 */
function asDecimal(major: number, fraction: string, currency: string): string {
  const decimals = enFractionDigits(fraction);
  if (decimals === '') return `${enInteger(major)} ${enCldrName(currency, major)}`;
  return `${enInteger(major)} point ${decimals} ${enCldrName(currency, 2)}`;
}

function amountWords(a: Announcement): string {
  const { major, fraction } = splitMinor(a);
  const units = enCurrencyUnits(a.currency);
  if (units !== undefined && minorDigits(a.currency) === 0) return count(major, units.major);
  if (units?.minor !== undefined) return withUnits(major, Number(fraction), units.major, units.minor);
  return asDecimal(major, fraction, a.currency);
}

export const enUS: SpeechLanguage = {
  code: 'en-US',
  say(m) {
    if (m.type !== 'payment') throw new Error(`${m.type} not implemented yet`);
    const a = m.payment;
    const verb = a.kind === 'refund' ? 'Refunded' : 'Received';
    const channel = CHANNEL_NAMES[a.channel];
    const on = channel === undefined ? '' : ` on ${channel}`;
    const text = `${verb} ${amountWords(a)}${on}`;
    return { text, clips: [text] };
  },
  vocabulary() {
    return [];
  },
};

import { describe, expect, it } from 'vitest';
import type { Channel, Kind } from '../../src/protocol/channels.ts';
import { MoneyError, minorDigits } from '../../src/protocol/money.ts';
import { HI_UNIT_CURRENCIES, hiCurrencyUnits } from '../../src/speech/currencies/hi.ts';
import { phrase } from '../../src/speech/index.ts';
import { hiFractionDigits, hiInteger } from '../../src/speech/numbers/hi.ts';
import { announcement } from './helpers.ts';

type Row = [amount: string, currency: string, channel: Channel, kind: Kind, spoken: string];

/** Singular unit names used in the tables: "एक <one of these>" alone takes the singular verb हुआ. */
const SINGULAR_UNITS = ['रुपया', 'पैसा', 'डॉलर', 'सेंट', 'पेनी', 'येन', 'नेपाली रुपया', 'स्विस फ़्रैंक', 'श्रीलंकाई रुपया'];
const received = (words: string): string =>
  `${words} ${SINGULAR_UNITS.some((unit) => words === `एक ${unit}`) ? 'प्राप्त हुआ' : 'प्राप्त हुए'}`;

/** Generic-channel rupee payments: the number words (each 1–99 its own word) and Indian grouping. */
const RUPEES: Row[] = (
  [
    ['1', 'एक रुपया'],
    ['2', 'दो रुपये'],
    ['5', 'पाँच रुपये'],
    ['10', 'दस रुपये'],
    ['11', 'ग्यारह रुपये'],
    ['19', 'उन्नीस रुपये'],
    ['21', 'इक्कीस रुपये'],
    ['29', 'उनतीस रुपये'],
    ['35', 'पैंतीस रुपये'],
    ['44', 'चौवालीस रुपये'],
    ['49', 'उनचास रुपये'],
    ['51', 'इक्यावन रुपये'],
    ['54', 'चौवन रुपये'],
    ['67', 'सड़सठ रुपये'],
    ['79', 'उनासी रुपये'],
    ['91', 'इक्यानवे रुपये'],
    ['99', 'निन्यानवे रुपये'],
    // एक सौ every time, also when nothing follows (to-words says a bare सौ there).
    ['100', 'एक सौ रुपये'],
    ['101', 'एक सौ एक रुपये'],
    ['123', 'एक सौ तेईस रुपये'],
    ['200', 'दो सौ रुपये'],
    ['999', 'नौ सौ निन्यानवे रुपये'],
    ['1000', 'एक हज़ार रुपये'],
    ['1100', 'एक हज़ार एक सौ रुपये'],
    ['2500', 'दो हज़ार पाँच सौ रुपये'],
    ['99999', 'निन्यानवे हज़ार नौ सौ निन्यानवे रुपये'],
    // Indian grouping: लाख = 1,00,000, करोड़ = 1,00,00,000, अरब = 1,00,00,00,000.
    ['100000', 'एक लाख रुपये'],
    ['150000', 'एक लाख पचास हज़ार रुपये'],
    ['1000001', 'दस लाख एक रुपये'],
    ['10000000', 'एक करोड़ रुपये'],
    ['15000000', 'एक करोड़ पचास लाख रुपये'],
    ['123456789', 'बारह करोड़ चौंतीस लाख छप्पन हज़ार सात सौ नवासी रुपये'],
    ['1000000000', 'एक अरब रुपये'],
    ['20300000100', 'बीस अरब तीस करोड़ एक सौ रुपये'],
    // Paise: after rupees with और; a zero part is not spoken.
    ['0.01', 'एक पैसा'],
    ['0.50', 'पचास पैसे'],
    ['1.50', 'एक रुपया और पचास पैसे'],
    ['1.01', 'एक रुपया और एक पैसा'],
    ['123.45', 'एक सौ तेईस रुपये और पैंतालीस पैसे'],
    ['100.05', 'एक सौ रुपये और पाँच पैसे'],
    ['10.00', 'दस रुपये'],
    ['99999999999.99', 'निन्यानवे अरब निन्यानवे करोड़ निन्यानवे लाख निन्यानवे हज़ार नौ सौ निन्यानवे रुपये और निन्यानवे पैसे'],
  ] as const
).map(([amount, words]): Row => [amount, 'INR', 'generic', 'payment', received(words)]);

const CHANNELS_AND_REFUNDS: Row[] = [
  ['123', 'INR', 'paytm', 'payment', 'Paytm पर एक सौ तेईस रुपये प्राप्त हुए'],
  ['250', 'INR', 'phonepe', 'payment', 'PhonePe पर दो सौ पचास रुपये प्राप्त हुए'],
  ['1', 'INR', 'gpay', 'payment', 'Google Pay पर एक रुपया प्राप्त हुआ'],
  ['12.50', 'CNY', 'wechat', 'payment', 'WeChat Pay पर बारह दशमलव पाँच युआन प्राप्त हुए'],
  ['88', 'CNY', 'alipay', 'payment', 'Alipay पर अठासी युआन प्राप्त हुए'],
  ['1', 'CNY', 'unionpay', 'payment', 'UnionPay पर एक युआन प्राप्त हुआ'],
  ['50', 'INR', 'paytm', 'refund', 'Paytm पर पचास रुपये रिफ़ंड हुए'],
  ['1', 'INR', 'phonepe', 'refund', 'PhonePe पर एक रुपया रिफ़ंड हुआ'],
  ['0.50', 'INR', 'gpay', 'refund', 'Google Pay पर पचास पैसे रिफ़ंड हुए'],
  ['0.01', 'INR', 'paytm', 'refund', 'Paytm पर एक पैसा रिफ़ंड हुआ'],
  ['10', 'USD', 'generic', 'refund', 'दस डॉलर रिफ़ंड हुए'],
];

const CURRENCIES: Row[] = (
  [
    ['1', 'USD', 'एक डॉलर'],
    ['10.50', 'USD', 'दस डॉलर और पचास सेंट'],
    ['0.01', 'USD', 'एक सेंट'],
    ['2.50', 'EUR', 'दो यूरो और पचास सेंट'],
    ['0.01', 'GBP', 'एक पेनी'],
    ['0.02', 'GBP', 'दो पेंस'],
    ['500', 'JPY', 'पाँच सौ येन'],
    ['1', 'JPY', 'एक येन'],
    ['10', 'AED', 'दस दिरहम'],
    ['100', 'NPR', 'एक सौ नेपाली रुपये'],
    ['1', 'NPR', 'एक नेपाली रुपया'],
    // Not in our table: a decimal and CLDR's Hindi name, रुपया inflected for the plural.
    ['12.50', 'CHF', 'बारह दशमलव पाँच स्विस फ़्रैंक'],
    ['1', 'CHF', 'एक स्विस फ़्रैंक'],
    ['1.005', 'KWD', 'एक दशमलव शून्य शून्य पाँच कुवैती दिनार'],
    ['2', 'LKR', 'दो श्रीलंकाई रुपये'],
    ['1', 'LKR', 'एक श्रीलंकाई रुपया'],
  ] as const
).map(([amount, currency, words]): Row => [amount, currency, 'generic', 'payment', received(words)]);

describe('hi-IN phrases', () => {
  it.each([...RUPEES, ...CHANNELS_AND_REFUNDS, ...CURRENCIES])(
    '%s %s %s %s → %s',
    (amount, currency, channel, kind, spoken) => {
      expect(phrase(announcement(amount, currency, channel, kind), 'hi-IN')).toBe(spoken);
    },
  );

  it('has at least 40 table cases', () => {
    expect(RUPEES.length + CHANNELS_AND_REFUNDS.length + CURRENCIES.length).toBeGreaterThanOrEqual(40);
  });

  it('says the verb in the singular only for exactly one unit', () => {
    // The table helper decides singular from the words; pin it so that helper cannot hide a mistake.
    expect(received('एक रुपया')).toBe('एक रुपया प्राप्त हुआ');
    expect(received('एक सौ रुपये')).toBe('एक सौ रुपये प्राप्त हुए');
    expect(received('एक रुपया और एक पैसा')).toBe('एक रुपया और एक पैसा प्राप्त हुए');
    expect(received('एक स्विस फ़्रैंक')).toBe('एक स्विस फ़्रैंक प्राप्त हुआ');
  });

  it('refuses an unknown currency rather than guessing its decimals', () => {
    expect(() => phrase({ amount: 100, currency: 'XYZ', channel: 'paytm', kind: 'payment' }, 'hi-IN')).toThrow(
      MoneyError,
    );
  });
});

describe('hi currency table', () => {
  // A minor-unit name for a currency without minor units would misread amounts. (CNY's fen has no
  // Hindi name, so CNY is read as a decimal: a listed currency may lack `minor`.)
  it.each(HI_UNIT_CURRENCIES.map((c) => [c]))(
    '%s names a minor unit only when ISO 4217 gives it minor digits',
    (currency) => {
      if (hiCurrencyUnits(currency)?.minor !== undefined) expect(minorDigits(currency)).toBeGreaterThan(0);
    },
  );
});

describe('hi number reader', () => {
  // From known Hindi, independent of both our reader and to-words.
  it.each([
    [0, 'शून्य'],
    [1, 'एक'],
    [11, 'ग्यारह'],
    [21, 'इक्कीस'],
    [29, 'उनतीस'],
    [35, 'पैंतीस'],
    [49, 'उनचास'],
    [99, 'निन्यानवे'],
    [100, 'एक सौ'],
    [1000, 'एक हज़ार'],
    [100000, 'एक लाख'],
    [15000000, 'एक करोड़ पचास लाख'],
    [1000000000, 'एक अरब'],
    [1000000100, 'एक अरब एक सौ'],
  ])('%i → %s', (n, words) => {
    expect(hiInteger(n)).toBe(words);
  });

  it('reads decimals digit by digit without trailing zeros', () => {
    expect(hiFractionDigits('45')).toBe('चार पाँच');
    expect(hiFractionDigits('05')).toBe('शून्य पाँच');
    expect(hiFractionDigits('50')).toBe('पाँच');
    expect(hiFractionDigits('00')).toBe('');
  });

  it.each([-1, 0.5, 100_000_000_000, Number.NaN])('refuses %s', (n) => {
    expect(() => hiInteger(n)).toThrow(RangeError);
  });
});

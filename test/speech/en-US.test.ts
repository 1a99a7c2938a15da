import { describe, expect, it } from 'vitest';
import type { Channel, Kind } from '../../src/protocol/channels.ts';
import { minorDigits } from '../../src/protocol/money.ts';
import { EN_UNIT_CURRENCIES, enCurrencyUnits } from '../../src/speech/currencies/en.ts';
import { phrase } from '../../src/speech/index.ts';
import { enInteger } from '../../src/speech/numbers/en.ts';
import { announcement } from './helpers.ts';

type Row = [amount: string, currency: string, channel: Channel, kind: Kind, spoken: string];

/** Generic-channel payments ("Received …", no channel named): number words, units and plurals. */
const AMOUNTS: Row[] = (
  [
    // Dollars and cents: singular/plural, a zero part is not spoken.
    ['1.00', 'USD', 'one dollar'],
    ['2', 'USD', 'two dollars'],
    ['0.01', 'USD', 'one cent'],
    ['0.05', 'USD', 'five cents'],
    ['100.00', 'USD', 'one hundred dollars'],
    ['1.01', 'USD', 'one dollar and one cent'],
    ['21.21', 'USD', 'twenty-one dollars and twenty-one cents'],
    ['40.40', 'USD', 'forty dollars and forty cents'],
    ['70', 'USD', 'seventy dollars'],
    ['99.99', 'USD', 'ninety-nine dollars and ninety-nine cents'],
    ['115', 'USD', 'one hundred fifteen dollars'],
    ['1005', 'USD', 'one thousand five dollars'],
    ['1010', 'USD', 'one thousand ten dollars'],
    ['1000000', 'USD', 'one million dollars'],
    ['100000001', 'USD', 'one hundred million one dollars'],
    [
      '12345678.90',
      'USD',
      'twelve million three hundred forty-five thousand six hundred seventy-eight dollars and ninety cents',
    ],
    [
      '99999999999.99',
      'USD',
      'ninety-nine billion nine hundred ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine dollars and ninety-nine cents',
    ],
    // Rupees and paise.
    ['1', 'INR', 'one rupee'],
    ['2', 'INR', 'two rupees'],
    ['0.01', 'INR', 'one paisa'],
    ['0.50', 'INR', 'fifty paise'],
    ['1.01', 'INR', 'one rupee and one paisa'],
    ['1.50', 'INR', 'one rupee and fifty paise'],
    // Yuan and fen do not change in the plural.
    ['1', 'CNY', 'one yuan'],
    ['0.01', 'CNY', 'one fen'],
    ['10.10', 'CNY', 'ten yuan and ten fen'],
    ['1', 'EUR', 'one euro'],
    ['2.50', 'EUR', 'two euros and fifty cents'],
    ['0.01', 'GBP', 'one penny'],
    ['0.02', 'GBP', 'two pence'],
    ['1.50', 'GBP', 'one pound and fifty pence'],
    ['10.90', 'HKD', 'ten dollars and ninety cents'],
    // No minor unit.
    ['1', 'JPY', 'one yen'],
    ['500', 'JPY', 'five hundred yen'],
    ['20000', 'KRW', 'twenty thousand won'],
    // Three minor digits: 1000 fils to the dinar.
    ['1.005', 'KWD', 'one dinar and five fils'],
    ['0.001', 'KWD', 'one fils'],
    ['2.500', 'KWD', 'two dinars and five hundred fils'],
    // Not in our table: CLDR's name, the fraction read as a decimal.
    ['1', 'CHF', 'one Swiss franc'],
    ['2', 'CHF', 'two Swiss francs'],
    ['12.50', 'CHF', 'twelve point five Swiss francs'],
    ['0.05', 'CHF', 'zero point zero five Swiss francs'],
    ['1.01', 'CHF', 'one point zero one Swiss francs'],
  ] as const
).map(([amount, currency, words]): Row => [amount, currency, 'generic', 'payment', `Received ${words}`]);

const CHANNELS_AND_REFUNDS: Row[] = [
  ['123.45', 'CNY', 'wechat', 'payment', 'Received one hundred twenty-three yuan and forty-five fen on WeChat Pay'],
  ['12.50', 'CNY', 'alipay', 'payment', 'Received twelve yuan and fifty fen on Alipay'],
  ['0.50', 'CNY', 'unionpay', 'payment', 'Received fifty fen on UnionPay'],
  ['250', 'INR', 'paytm', 'payment', 'Received two hundred fifty rupees on Paytm'],
  ['1', 'INR', 'phonepe', 'payment', 'Received one rupee on PhonePe'],
  ['0.01', 'INR', 'gpay', 'payment', 'Received one paisa on Google Pay'],
  ['12.50', 'CNY', 'wechat', 'refund', 'Refunded twelve yuan and fifty fen on WeChat Pay'],
  ['88', 'CNY', 'alipay', 'refund', 'Refunded eighty-eight yuan on Alipay'],
  ['1', 'CNY', 'unionpay', 'refund', 'Refunded one yuan on UnionPay'],
  ['0.50', 'INR', 'paytm', 'refund', 'Refunded fifty paise on Paytm'],
  ['2', 'INR', 'phonepe', 'refund', 'Refunded two rupees on PhonePe'],
  ['1', 'USD', 'gpay', 'refund', 'Refunded one dollar on Google Pay'],
  ['10', 'USD', 'generic', 'refund', 'Refunded ten dollars'],
];

describe('en-US phrases', () => {
  it.each([...AMOUNTS, ...CHANNELS_AND_REFUNDS])('%s %s %s %s → %s', (amount, currency, channel, kind, spoken) => {
    expect(phrase(announcement(amount, currency, channel, kind), 'en-US')).toBe(spoken);
  });

  it('has at least 45 table cases', () => {
    expect(AMOUNTS.length + CHANNELS_AND_REFUNDS.length).toBeGreaterThanOrEqual(45);
  });
});

describe('en currency table', () => {
  // A minor-unit name for a currency without minor units (or the reverse) would misread amounts.
  it.each(EN_UNIT_CURRENCIES.map((c) => [c]))(
    '%s names a minor unit exactly when ISO 4217 gives it minor digits',
    (currency) => {
      expect(enCurrencyUnits(currency)?.minor !== undefined).toBe(minorDigits(currency) > 0);
    },
  );
});

describe('en number reader', () => {
  it.each([
    [0, 'zero'],
    [13, 'thirteen'],
    [20, 'twenty'],
    [45, 'forty-five'],
    [101, 'one hundred one'],
    [1_000_021, 'one million twenty-one'],
  ])('%i → %s', (n, words) => {
    expect(enInteger(n)).toBe(words);
  });

  it.each([-1, 0.5, 100_000_000_000, Number.NaN])('refuses %s', (n) => {
    expect(() => enInteger(n)).toThrow(RangeError);
  });
});

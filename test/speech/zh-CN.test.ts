import { describe, expect, it } from 'vitest';
import type { Channel, Kind } from '../../src/protocol/channels.ts';
import { MoneyError } from '../../src/protocol/money.ts';
import { phrase } from '../../src/speech/index.ts';
import { zhDecimal, zhInteger } from '../../src/speech/numbers/zh.ts';
import { announcement } from './helpers.ts';

type Row = [amount: string, currency: string, channel: Channel, kind: Kind, spoken: string];

/** Plain WeChat payments in yuan: the number reading itself. */
const NUMBERS: Row[] = (
  [
    ['123.45', '一百二十三点四五'],
    ['1', '一'],
    ['10', '十'],
    ['12', '十二'],
    ['1005', '一千零五'],
    ['100500', '十万零五百'],
    // Decimals: trailing zeros dropped, .00 never spoken, leading zeros read.
    ['12.50', '十二点五'],
    ['100.00', '一百'],
    ['0.01', '零点零一'],
    ['0.10', '零点一'],
    ['0.5', '零点五'],
    ['10.5', '十点五'],
    ['100.05', '一百点零五'],
    ['12345678.9', '一千两百三十四万五千六百七十八点九'],
    // 十 alone only at the very start; 一十 after 零 or inside.
    ['1010', '一千零一十'],
    ['110', '一百一十'],
    ['110000', '十一万'],
    ['1100000', '一百一十万'],
    ['100000', '十万'],
    ['1000000000', '十亿'],
    ['100100000', '一亿零一十万'],
    // 两 before 百/千 always, before 万/亿 only when the group is exactly 2; 二 elsewhere.
    ['200', '两百'],
    ['2000', '两千'],
    ['20000', '两万'],
    ['200000000', '两亿'],
    ['2', '二'],
    ['20', '二十'],
    ['22', '二十二'],
    ['222', '两百二十二'],
    ['2222', '两千两百二十二'],
    ['22222', '两万两千两百二十二'],
    ['220000', '二十二万'],
    ['120000', '十二万'],
    ['1020000', '一百零二万'],
    ['2000000', '两百万'],
    ['20000000', '两千万'],
    ['2000000000', '二十亿'],
    ['20000000000', '两百亿'],
    ['2200000000', '二十二亿'],
    ['200020000', '两亿零两万'],
    ['0.02', '零点零二'],
    ['2.22', '二点二二'],
    // Zeros in every position: one 零 per run, none at the end of a group.
    ['100000001', '一亿零一'],
    ['10000000000', '一百亿'],
    ['1000010', '一百万零一十'],
    ['101', '一百零一'],
    ['1001', '一千零一'],
    ['1100', '一千一百'],
    ['10010', '一万零一十'],
    ['10000', '一万'],
    ['102000', '十万两千'],
    ['100002000', '一亿零两千'],
    ['110001000', '一亿一千万一千'],
    ['10001000', '一千万一千'],
    ['1000100', '一百万零一百'],
    // Largest amount a speaker reads.
    ['99999999999.99', '九百九十九亿九千九百九十九万九千九百九十九点九九'],
  ] as const
).map(([amount, words]): Row => [amount, 'CNY', 'wechat', 'payment', `微信收款${words}元`]);

const CHANNELS_AND_REFUNDS: Row[] = [
  ['1005', 'CNY', 'alipay', 'payment', '支付宝到账一千零五元'],
  ['0.50', 'CNY', 'unionpay', 'payment', '云闪付收款零点五元'],
  ['250', 'INR', 'paytm', 'payment', 'Paytm收款两百五十卢比'],
  ['1', 'INR', 'phonepe', 'payment', 'PhonePe收款一卢比'],
  ['99.99', 'USD', 'gpay', 'payment', 'Google Pay收款九十九点九九美元'],
  ['88', 'CNY', 'generic', 'payment', '收款八十八元'],
  ['12.50', 'CNY', 'wechat', 'refund', '微信退款十二点五元'],
  ['12.50', 'CNY', 'alipay', 'refund', '支付宝退款十二点五元'],
  ['1', 'CNY', 'unionpay', 'refund', '云闪付退款一元'],
  ['0.50', 'INR', 'paytm', 'refund', 'Paytm退款零点五卢比'],
  ['20', 'INR', 'phonepe', 'refund', 'PhonePe退款二十卢比'],
  ['2', 'USD', 'gpay', 'refund', 'Google Pay退款二美元'],
  ['88', 'CNY', 'generic', 'refund', '退款八十八元'],
];

const CURRENCIES: Row[] = [
  ['500', 'JPY', 'wechat', 'payment', '微信收款五百日元'],
  ['2', 'JPY', 'wechat', 'payment', '微信收款二日元'],
  ['99999999999', 'JPY', 'wechat', 'payment', '微信收款九百九十九亿九千九百九十九万九千九百九十九日元'],
  ['20000', 'KRW', 'wechat', 'payment', '微信收款两万韩元'],
  ['1.005', 'KWD', 'wechat', 'payment', '微信收款一点零零五科威特第纳尔'],
  ['1.500', 'KWD', 'wechat', 'payment', '微信收款一点五科威特第纳尔'],
  ['0.020', 'KWD', 'wechat', 'payment', '微信收款零点零二科威特第纳尔'],
  ['0.001', 'KWD', 'wechat', 'payment', '微信收款零点零零一科威特第纳尔'],
  ['10', 'USD', 'wechat', 'payment', '微信收款十美元'],
  ['200', 'HKD', 'wechat', 'payment', '微信收款两百港元'],
  ['0.99', 'EUR', 'wechat', 'payment', '微信收款零点九九欧元'],
  ['2', 'GBP', 'wechat', 'payment', '微信收款二英镑'],
  ['50', 'AUD', 'wechat', 'payment', '微信收款五十澳元'],
  // Not in our table: CLDR's Chinese name through Intl.DisplayNames.
  ['12.50', 'CHF', 'wechat', 'payment', '微信收款十二点五瑞士法郎'],
];

describe('zh-CN phrases', () => {
  it.each([...NUMBERS, ...CHANNELS_AND_REFUNDS, ...CURRENCIES])(
    '%s %s %s %s → %s',
    (amount, currency, channel, kind, spoken) => {
      expect(phrase(announcement(amount, currency, channel, kind), 'zh-CN')).toBe(spoken);
    },
  );

  it('has at least 45 table cases', () => {
    expect(NUMBERS.length + CHANNELS_AND_REFUNDS.length + CURRENCIES.length).toBeGreaterThanOrEqual(45);
  });

  it('refuses an unknown currency rather than guessing its decimals', () => {
    expect(() => phrase({ amount: 100, currency: 'XYZ', channel: 'wechat', kind: 'payment' }, 'zh-CN')).toThrow(
      MoneyError,
    );
  });
});

describe('zh number reader', () => {
  it('reads zero and a zero fraction', () => {
    expect(zhInteger(0)).toBe('零');
    expect(zhDecimal(0, '00')).toBe('零');
    expect(zhDecimal(7, '')).toBe('七');
  });

  it.each([-1, 1.5, 100_000_000_000, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s', (n) => {
    expect(() => zhInteger(n)).toThrow(RangeError);
  });
});

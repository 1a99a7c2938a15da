import { describe, expect, it } from 'vitest';
import { formatAmount, isKnownCurrency, minorDigits, parseAmount } from '../../src/protocol/index.ts';

describe('money', () => {
  it.each([
    ['123.45', 'CNY', 12345],
    ['10', 'CNY', 1000],
    ['0.01', 'CNY', 1],
    ['12.5', 'CNY', 1250],
    ['007.10', 'INR', 710],
    ['500', 'JPY', 500],
    ['1.005', 'KWD', 1005],
    ['99999999999.99', 'CNY', 9_999_999_999_999],
    // 0.1 + 0.2 style float traps: parsed digit by digit, so exact.
    ['0.29', 'USD', 29],
    ['1.15', 'USD', 115],
    ['4.35', 'USD', 435],
  ])('parses %s %s exactly into %i minor units', (text, currency, minor) => {
    expect(parseAmount(text, currency)).toBe(minor);
  });

  it.each([
    ['12.345', 'CNY', /3 decimals but CNY has 2/],
    ['1.5', 'JPY', /JPY has 0/],
    ['-5', 'CNY', /negative.*--refund/],
    ['1e3', 'CNY', /not a plain decimal/],
    ['1,000', 'CNY', /not a plain decimal/],
    ['', 'CNY', /not a plain decimal/],
    ['٣', 'CNY', /not a plain decimal/],
    ['0', 'CNY', /greater than zero/],
    ['0.00', 'CNY', /greater than zero/],
    ['100000000000', 'CNY', /too large/],
    ['5', 'ABC', /unknown currency "ABC"/],
  ])('rejects %s %s', (text, currency, message) => {
    expect(() => parseAmount(text, currency)).toThrow(message);
  });

  it('knows ISO 4217 minor digits and rejects non-money codes', () => {
    expect([minorDigits('CNY'), minorDigits('INR'), minorDigits('JPY'), minorDigits('BHD')]).toEqual([2, 2, 0, 3]);
    expect(isKnownCurrency('XTS')).toBe(false);
    expect(isKnownCurrency('XOF')).toBe(true);
  });

  it('formats minor units back to the decimal text', () => {
    expect(formatAmount({ amount: 12345, currency: 'CNY' })).toBe('123.45');
    expect(formatAmount({ amount: 5, currency: 'CNY' })).toBe('0.05');
    expect(formatAmount({ amount: 500, currency: 'JPY' })).toBe('500');
    expect(formatAmount({ amount: 1005, currency: 'KWD' })).toBe('1.005');
  });
});

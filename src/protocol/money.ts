/**
 * Money on the wire and in memory: an integer count of minor units plus an ISO 4217 code.
 * Floats never touch an amount; decimal strings are parsed digit by digit.
 */
import currencyCodes from 'currency-codes';

/** Codes ISO 4217 lists that are not money a shop can be paid in (metals, test, SDR, …). */
const NOT_MONEY = new Set(['XAG', 'XAU', 'XBA', 'XBB', 'XBC', 'XBD', 'XDR', 'XPD', 'XPT', 'XSU', 'XTS', 'XUA', 'XXX']);

/** The largest amount, in major units, that payspeaker reads aloud (999 亿 …, i.e. < 10^11). */
export const MAX_MAJOR_UNITS = 99_999_999_999;

export interface Money {
  /** Integer count of minor units (fen, paise, cents). */
  readonly amount: number;
  /** ISO 4217 alphabetic code, upper case. */
  readonly currency: string;
}

export class MoneyError extends Error {
  constructor(
    readonly reason: 'unknown-currency' | 'invalid-amount' | 'amount-out-of-range',
    message: string,
  ) {
    super(message);
    this.name = 'MoneyError';
  }
}

export function isKnownCurrency(code: string): boolean {
  return (
    typeof code === 'string' &&
    /^[A-Z]{3}$/.test(code) &&
    !NOT_MONEY.has(code) &&
    currencyCodes.code(code) !== undefined
  );
}

/** Number of minor-unit digits of a currency: CNY 2, JPY 0, KWD 3. */
export function minorDigits(currency: string): number {
  if (!isKnownCurrency(currency)) {
    throw new MoneyError(
      'unknown-currency',
      `unknown currency ${JSON.stringify(currency)}: use an ISO 4217 code such as CNY, INR or USD`,
    );
  }
  return currencyCodes.code(currency)!.digits;
}

/** Largest valid amount in minor units for a currency. */
export function maxMinorUnits(currency: string): number {
  const digits = minorDigits(currency);
  return (MAX_MAJOR_UNITS + 1) * 10 ** digits - 1;
}

/** Splits minor units into a major part and a zero-padded fraction string ("45", "05", ""). */
export function splitMinor(money: Money): { major: number; fraction: string } {
  const digits = minorDigits(money.currency);
  const scale = 10 ** digits;
  const major = Math.floor(money.amount / scale);
  const fraction = digits === 0 ? '' : String(money.amount % scale).padStart(digits, '0');
  return { major, fraction };
}

/** 12345 CNY → "123.45"; 500 JPY → "500". */
export function formatAmount(money: Money): string {
  const { major, fraction } = splitMinor(money);
  return fraction === '' ? String(major) : `${major}.${fraction}`;
}

/**
 * Parses a decimal string ("123.45", "10", "0.5") exactly into minor units of `currency`.
 * Rejects signs, exponents, thousands separators and more decimals than the currency has.
 */
export function parseAmount(text: string, currency: string): number {
  const digits = minorDigits(currency);
  if (/^\s*-/.test(text)) {
    throw new MoneyError(
      'invalid-amount',
      `amount ${text} is negative: amounts are always positive; announce a refund with --refund`,
    );
  }
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) {
    throw new MoneyError(
      'invalid-amount',
      `amount ${JSON.stringify(text)} is not a plain decimal number: write it like 123.45`,
    );
  }
  const [, whole, frac = ''] = match;
  if (frac.length > digits) {
    throw new MoneyError(
      'invalid-amount',
      `amount ${text} has ${frac.length} decimals but ${currency} has ${digits}: round it to ${digits} decimal place(s)`,
    );
  }
  const wholeDigits = whole!.replace(/^0+(?=\d)/, '');
  if (wholeDigits.length > String(MAX_MAJOR_UNITS).length) {
    throw new MoneyError(
      'amount-out-of-range',
      `amount ${text} is too large: the most a speaker reads is ${MAX_MAJOR_UNITS} ${currency}`,
    );
  }
  const minor = Number(wholeDigits + frac.padEnd(digits, '0'));
  if (minor <= 0) {
    throw new MoneyError('amount-out-of-range', `amount ${text} must be greater than zero`);
  }
  if (minor > maxMinorUnits(currency)) {
    throw new MoneyError(
      'amount-out-of-range',
      `amount ${text} is too large: the most a speaker reads is ${MAX_MAJOR_UNITS} ${currency}`,
    );
  }
  return minor;
}

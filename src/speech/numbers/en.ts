/**
 * English number words from to-words, normalised to the American style a speaker says:
 * lower case, hyphenated tens ("twenty-three"), and no "and" inside a number.
 */
import { ToWords } from 'to-words';

// to-words builds its locale tables per instance: make one and reuse it.
const toWords = new ToWords({ localeCode: 'en-US' });

const TENS = 'twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety';
const UNITS = 'one|two|three|four|five|six|seven|eight|nine';
const TENS_THEN_UNIT = new RegExp(`\\b(${TENS}) (${UNITS})\\b`, 'g');

/**
 * Every word enInteger and enFractionDigits can write, plus "point" (said before decimals): the
 * number clips of an en-US voice pack. Hyphenated tens are two clips ("twenty", "three").
 */
export const EN_NUMBER_WORDS: readonly string[] = [
  ...'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen'.split(
    ' ',
  ),
  ...TENS.split('|'),
  'hundred',
  'thousand',
  'million',
  'billion',
  'point',
];

/** The largest number we ask to-words for (99,999,999,999: see MAX_MAJOR_UNITS in protocol/money.ts). */
export const MAX_EN_INTEGER = 99_999_999_999;

/** 123 → "one hundred twenty-three". */
export function enInteger(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_EN_INTEGER) {
    throw new RangeError(`cannot read ${n} in English: expected an integer from 0 to ${MAX_EN_INTEGER}`);
  }
  // to-words says "One Hundred Twenty Three".
  return toWords.convert(n).toLowerCase().replace(TENS_THEN_UNIT, '$1-$2');
}

/** Decimal digits one by one, trailing zeros dropped: "45" → "four five", "50" → "five". */
export function enFractionDigits(fraction: string): string {
  return Array.from(fraction.replace(/0+$/, ''), (d) => enInteger(Number(d))).join(' ');
}

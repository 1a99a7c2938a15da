/**
 * Chinese number reading as payment speakers say it. Hand-written rather than taken from nzh,
 * because the choice between 两 and 二 depends on the digit's place and on its whole 万/亿 group,
 * which nzh does not model. The tests check this reader against nzh (with 两 mapped to 二).
 *
 *   - Four-digit groups, each closed by its group unit (万, 亿) unless the group is all zeros.
 *   - A run of zeros between two spoken digits is one 零, even across groups (一亿零一);
 *     zeros at the end of a group are never spoken (十万两千, not 十万零两千).
 *   - 十 rather than 一十 only at the very start of the number (十元, 十一万); elsewhere 一十 (一千零一十).
 *   - 两 before 百 and 千; before 万/亿 only when that whole group is exactly 2 (两万, but 一百零二万);
 *     二 everywhere else (二元, 二十, decimals).
 */

const DIGITS = '零一二三四五六七八九';
/** Place names inside a group, by power of ten. */
const PLACES = ['', '十', '百', '千'] as const;
/** Group units, by group index counted from the right. */
const GROUP_UNITS = ['', '万', '亿'] as const;

/** 999亿9999万9999: three groups are all the speaker reads (see MAX_MAJOR_UNITS in protocol/money.ts). */
export const MAX_ZH_INTEGER = 99_999_999_999;

/** Reads a whole number: 1005 → 一千零五, 20000 → 两万. */
export function zhInteger(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ZH_INTEGER) {
    throw new RangeError(`cannot read ${n} in Chinese: expected an integer from 0 to ${MAX_ZH_INTEGER}`);
  }
  if (n === 0) return DIGITS[0]!;
  const padded = String(n).padStart(4 * GROUP_UNITS.length, '0');
  let out = '';
  let zeroPending = false;
  for (let g = GROUP_UNITS.length - 1; g >= 0; g--) {
    const start = (GROUP_UNITS.length - 1 - g) * 4;
    const group = padded.slice(start, start + 4);
    const groupValue = Number(group);
    for (let i = 0; i < 4; i++) {
      const digit = Number(group[i]);
      const place = 3 - i;
      if (digit === 0) {
        // Leading zeros of the number are silent; later ones may need a 零 before the next digit.
        zeroPending = out !== '';
        continue;
      }
      if (zeroPending) out += DIGITS[0];
      zeroPending = false;
      out += digitWord(digit, place, g, groupValue, out === '') + PLACES[place];
    }
    if (groupValue !== 0 && g > 0) {
      out += GROUP_UNITS[g];
      // The unit absorbs the group's trailing zeros: 十万两千, not 十万零两千.
      zeroPending = false;
    }
  }
  return out;
}

/** Word for one non-zero digit, applying the 十 and 两 conventions. */
function digitWord(digit: number, place: number, group: number, groupValue: number, first: boolean): string {
  if (digit === 1 && place === 1 && first) return '';
  if (digit === 2 && (place >= 2 || (place === 0 && group > 0 && groupValue === 2))) return '两';
  return DIGITS[digit]!;
}

/** Reads decimal digits one by one, dropping trailing zeros: "50" → 五, "05" → 零五, "00" → "". */
export function zhFractionDigits(fraction: string): string {
  return Array.from(fraction.replace(/0+$/, ''), (d) => DIGITS[Number(d)]!).join('');
}

/** Every character the readers above write, each one voice-pack clip: digits, 两, place and group units, 点. */
export const ZH_NUMBER_CHARS: readonly string[] = [...DIGITS, '两', ...PLACES.slice(1), ...GROUP_UNITS.slice(1), '点'];

/** Reads major units and their fraction string: (12, "50") → 十二点五, (100, "00") → 一百. */
export function zhDecimal(major: number, fraction: string): string {
  const decimals = zhFractionDigits(fraction);
  return decimals === '' ? zhInteger(major) : `${zhInteger(major)}点${decimals}`;
}

/**
 * Hindi number reading with Indian grouping: सौ (10²), हज़ार (10³), लाख (10⁵), करोड़ (10⁷),
 * अरब (10⁹), each preceded by its own count (1,50,00,000 → एक करोड़ पचास लाख).
 *
 * Hand-written rather than taken from to-words' hi-IN locale (v4.10), whose output the tests
 * compare with ours below 10⁹. to-words is wrong for a payment speaker in three ways:
 *   - a hundred with nothing after it is a bare सौ: 100 → सौ and 1,100 → "एक हज़ार सौ", while
 *     105 → एक सौ पांच. Speakers say एक सौ every time, as we do.
 *   - it has no अरब: 10⁹ → "सौ करोड़", 99,99,99,99,999 → "नौ हज़ार नौ सौ निन्यानवे करोड़ …".
 *   - it mixes spellings within one series: 51 इक्याबन and 54 चौबन beside 57 सत्तावन, 58 अट्ठावन;
 *     91 इक्यानबे beside 92–99 बानवे … निन्यानवे. We write व throughout (इक्यावन, चौवन,
 *     इक्यानवे), 44 as चौवालीस (its चौंतालीस is rare), and 5 as पाँच with chandrabindu (its
 *     पांच is a common informal spelling; both read the same).
 * 1–99 are irregular words in Hindi (उनतीस = 29, not "बीस नौ"), so each is its own voice-pack clip.
 */

/** 0–99, one word each. */
// prettier-ignore
const BELOW_100: readonly string[] = [
  'शून्य', 'एक', 'दो', 'तीन', 'चार', 'पाँच', 'छह', 'सात', 'आठ', 'नौ',
  'दस', 'ग्यारह', 'बारह', 'तेरह', 'चौदह', 'पंद्रह', 'सोलह', 'सत्रह', 'अठारह', 'उन्नीस',
  'बीस', 'इक्कीस', 'बाईस', 'तेईस', 'चौबीस', 'पच्चीस', 'छब्बीस', 'सत्ताईस', 'अट्ठाईस', 'उनतीस',
  'तीस', 'इकतीस', 'बत्तीस', 'तैंतीस', 'चौंतीस', 'पैंतीस', 'छत्तीस', 'सैंतीस', 'अड़तीस', 'उनतालीस',
  'चालीस', 'इकतालीस', 'बयालीस', 'तैंतालीस', 'चौवालीस', 'पैंतालीस', 'छियालीस', 'सैंतालीस', 'अड़तालीस', 'उनचास',
  'पचास', 'इक्यावन', 'बावन', 'तिरेपन', 'चौवन', 'पचपन', 'छप्पन', 'सत्तावन', 'अट्ठावन', 'उनसठ',
  'साठ', 'इकसठ', 'बासठ', 'तिरसठ', 'चौंसठ', 'पैंसठ', 'छियासठ', 'सड़सठ', 'अड़सठ', 'उनहत्तर',
  'सत्तर', 'इकहत्तर', 'बहत्तर', 'तिहत्तर', 'चौहत्तर', 'पचहत्तर', 'छिहत्तर', 'सतहत्तर', 'अठहत्तर', 'उनासी',
  'अस्सी', 'इक्यासी', 'बयासी', 'तिरासी', 'चौरासी', 'पचासी', 'छियासी', 'सतासी', 'अठासी', 'नवासी',
  'नब्बे', 'इक्यानवे', 'बानवे', 'तिरानवे', 'चौरानवे', 'पचानवे', 'छियानवे', 'सत्तानवे', 'अट्ठानवे', 'निन्यानवे',
];

/** Units from the largest down, with their size. Each takes a count of 1–99 (सौ: 1–9). */
const SCALES: readonly (readonly [size: number, word: string])[] = [
  [1e9, 'अरब'],
  [1e7, 'करोड़'],
  [1e5, 'लाख'],
  [1e3, 'हज़ार'],
  [1e2, 'सौ'],
];

/** Said before decimal digits: "बारह दशमलव पाँच" = 12.5. */
export const HI_POINT = 'दशमलव';

/** 99 अरब 99 करोड़ …: the most the speaker reads (see MAX_MAJOR_UNITS in protocol/money.ts). */
export const MAX_HI_INTEGER = 99_999_999_999;

/** 123 → "एक सौ तेईस", 15000000 → "एक करोड़ पचास लाख", 0 → "शून्य". */
export function hiInteger(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_HI_INTEGER) {
    throw new RangeError(`cannot read ${n} in Hindi: expected an integer from 0 to ${MAX_HI_INTEGER}`);
  }
  if (n === 0) return BELOW_100[0]!;
  const words: string[] = [];
  let rest = n;
  for (const [size, word] of SCALES) {
    const count = Math.floor(rest / size);
    rest %= size;
    if (count > 0) words.push(BELOW_100[count]!, word);
  }
  if (rest > 0) words.push(BELOW_100[rest]!);
  return words.join(' ');
}

/** Decimal digits one by one, trailing zeros dropped: "45" → "चार पाँच", "05" → "शून्य पाँच". */
export function hiFractionDigits(fraction: string): string {
  return Array.from(fraction.replace(/0+$/, ''), (d) => BELOW_100[Number(d)]!).join(' ');
}

/** Every word the readers above write, plus दशमलव: the number clips of a hi-IN voice pack. */
export const HI_NUMBER_WORDS: readonly string[] = [...BELOW_100, ...SCALES.map(([, word]) => word).reverse(), HI_POINT];

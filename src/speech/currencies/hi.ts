/**
 * Hindi names of currency units. Like Hindi nouns, रुपया and पैसा change in the plural (एक रुपया,
 * दो रुपये); loanwords (डॉलर, सेंट, यूरो) do not. Currencies not listed are read by the caller as a
 * decimal with CLDR's Hindi name from Intl.DisplayNames (स्विस फ़्रैंक), which a voice pack does not
 * record: the open set is left to TTS.
 */
/** Singular and plural of a unit name. */
export interface UnitName {
  one: string;
  other: string;
}

export interface HiCurrencyUnits {
  major: UnitName;
  /** Absent when the minor unit has no name in Hindi (CNY's fen) or the currency has none (JPY): read as a decimal. */
  minor?: UnitName;
}

const same = (word: string): UnitName => ({ one: word, other: word });
const RUPEE = { one: 'रुपया', other: 'रुपये' };
const PAISA = { one: 'पैसा', other: 'पैसे' };
const CENT = same('सेंट');

/**
 * The currencies an Indian counter meets: the rupee and its neighbours' (named with the country,
 * since a bare रुपया means the Indian one), and the currencies of travellers and remittances.
 */
const UNITS: Readonly<Record<string, HiCurrencyUnits>> = {
  INR: { major: RUPEE, minor: PAISA },
  NPR: { major: { one: 'नेपाली रुपया', other: 'नेपाली रुपये' }, minor: PAISA },
  PKR: { major: { one: 'पाकिस्तानी रुपया', other: 'पाकिस्तानी रुपये' }, minor: PAISA },
  USD: { major: same('डॉलर'), minor: CENT },
  EUR: { major: same('यूरो'), minor: CENT },
  GBP: { major: same('पाउंड'), minor: { one: 'पेनी', other: 'पेंस' } },
  AED: { major: same('दिरहम'), minor: same('फ़िल्स') },
  SGD: { major: same('सिंगापुर डॉलर'), minor: CENT },
  CNY: { major: same('युआन') },
  JPY: { major: same('येन') },
};

/** Hindi unit names for `currency`, or undefined when we only know its CLDR name. */
export function hiCurrencyUnits(currency: string): HiCurrencyUnits | undefined {
  return UNITS[currency];
}

// DisplayNames loads CLDR data on construction: build it once, on first use.
let displayNames: Intl.DisplayNames | undefined;

/**
 * CLDR's Hindi name for an unlisted currency: CHF → स्विस फ़्रैंक. CLDR gives singular names, and
 * only रुपया among them inflects (श्रीलंकाई रुपया → दो श्रीलंकाई रुपये), so `plural` fixes that one word.
 */
export function hiCldrName(currency: string, plural: boolean): string {
  displayNames ??= new Intl.DisplayNames(['hi'], { type: 'currency', fallback: 'code' });
  const name = displayNames.of(currency) ?? currency;
  return plural ? name.replace(/रुपया$/, 'रुपये') : name;
}

/** Every unit name in the table, in table order: the currency clips of a hi-IN voice pack. */
export const HI_TABLE_UNIT_WORDS: readonly string[] = [
  ...new Set(
    Object.values(UNITS).flatMap(({ major, minor }) =>
      [major, ...(minor === undefined ? [] : [minor])].flatMap((u) => [u.one, u.other]),
    ),
  ),
];

/** Codes listed above (lets tests check each against ISO 4217's minor digits). */
export const HI_UNIT_CURRENCIES: readonly string[] = Object.keys(UNITS);

/**
 * English names of currency units, singular and plural, for the currencies whose spoken units we
 * know ("one rupee", "fifty paise"). A currency listed without `minor` has no minor unit
 * (JPY, KRW, VND). Currencies not listed are read by the caller with CLDR names from Intl.
 */
export interface UnitName {
  one: string;
  other: string;
}

export interface CurrencyUnits {
  major: UnitName;
  minor?: UnitName;
}

const unit = (one: string, other: string = one + 's'): UnitName => ({ one, other });

// Dollar currencies are "dollars" in the country that uses them; a speaker says what the shop hears.
const DOLLAR: CurrencyUnits = { major: unit('dollar'), minor: unit('cent') };

const UNITS: Readonly<Record<string, CurrencyUnits>> = {
  USD: DOLLAR,
  HKD: DOLLAR,
  SGD: DOLLAR,
  AUD: DOLLAR,
  CAD: DOLLAR,
  NZD: DOLLAR,
  TWD: DOLLAR,
  EUR: { major: unit('euro'), minor: unit('cent') },
  GBP: { major: unit('pound'), minor: unit('penny', 'pence') },
  CNY: { major: unit('yuan', 'yuan'), minor: unit('fen', 'fen') },
  INR: { major: unit('rupee'), minor: unit('paisa', 'paise') },
  PKR: { major: unit('rupee'), minor: unit('paisa', 'paise') },
  JPY: { major: unit('yen', 'yen') },
  KRW: { major: unit('won', 'won') },
  VND: { major: unit('dong', 'dong') },
  MXN: { major: unit('peso'), minor: unit('centavo') },
  PHP: { major: unit('peso'), minor: unit('centavo') },
  KWD: { major: unit('dinar'), minor: unit('fils', 'fils') },
  BHD: { major: unit('dinar'), minor: unit('fils', 'fils') },
  AED: { major: unit('dirham'), minor: unit('fils', 'fils') },
  SAR: { major: unit('riyal'), minor: unit('halala') },
  THB: { major: unit('baht', 'baht'), minor: unit('satang', 'satang') },
  MYR: { major: unit('ringgit', 'ringgit'), minor: unit('sen', 'sen') },
};

/** Spoken unit names for `currency`, or undefined when we only know its CLDR name. */
export function enCurrencyUnits(currency: string): CurrencyUnits | undefined {
  return UNITS[currency];
}

/** CLDR's English name for `currency` with `count` ("1 Swiss franc", "2 Swiss francs"): for unlisted currencies. */
export function enCldrName(currency: string, count: number): string {
  const format = new Intl.NumberFormat('en', {
    style: 'currency',
    currency,
    currencyDisplay: 'name',
    minimumFractionDigits: 0,
    maximumFractionDigits: 0,
  });
  const name = format.formatToParts(count).find((part) => part.type === 'currency')?.value;
  return name ?? currency;
}

/** Every unit name in the table, singular and plural, in table order: the currency clips of an en-US voice pack. */
export const EN_TABLE_UNIT_WORDS: readonly string[] = [
  ...new Set(
    Object.values(UNITS).flatMap(({ major, minor }) =>
      [major, ...(minor === undefined ? [] : [minor])].flatMap((u) => [u.one, u.other]),
    ),
  ),
];

/** Codes listed above (lets tests check each against ISO 4217's minor digits). */
export const EN_UNIT_CURRENCIES: readonly string[] = Object.keys(UNITS);

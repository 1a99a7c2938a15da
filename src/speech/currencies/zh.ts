/**
 * Currency words spoken after a Chinese amount (一百元, 五百日元). The table holds the names
 * people say, which for several currencies are shorter than CLDR's (澳元, not 澳大利亚元);
 * anything else falls back to CLDR's Chinese name through Intl.DisplayNames.
 */
const SPOKEN: Readonly<Record<string, string>> = {
  CNY: '元',
  USD: '美元',
  HKD: '港元',
  MOP: '澳门元',
  TWD: '新台币',
  EUR: '欧元',
  JPY: '日元',
  KRW: '韩元',
  GBP: '英镑',
  INR: '卢比',
  SGD: '新加坡元',
  AUD: '澳元',
  CAD: '加元',
  NZD: '新西兰元',
  THB: '泰铢',
  RUB: '卢布',
  MYR: '林吉特',
};

/** Codes listed above: currencies whose word a zh-CN voice pack records. */
export const ZH_WORD_CURRENCIES: readonly string[] = Object.keys(SPOKEN);

/** The words of the table above, in table order: the currency clips a zh-CN voice pack records. */
export const ZH_TABLE_CURRENCY_WORDS: readonly string[] = [...new Set(Object.values(SPOKEN))];

// DisplayNames loads CLDR data on construction: build it once, on first use.
let displayNames: Intl.DisplayNames | undefined;

/** The word for `currency` in a zh-CN sentence: CNY → 元, KWD → 科威特第纳尔. */
export function zhCurrencyWord(currency: string): string {
  const spoken = SPOKEN[currency];
  if (spoken !== undefined) return spoken;
  displayNames ??= new Intl.DisplayNames(['zh-CN'], { type: 'currency', fallback: 'code' });
  return displayNames.of(currency) ?? currency;
}

/**
 * Mandarin, as the speakers on Chinese shop counters say it: brand, verb, amount, currency word,
 * no pauses or punctuation (微信收款一百二十三点四五元, 支付宝到账一千零五元).
 *
 * Clips: the brand and verb together (微信收款), each character of a number (一 百 二 十 三 点 …),
 * the currency word (元, 美元), and fixed phrases (今日收款, 笔, 共计, each prompt). A clip's key is
 * its own text.
 */
import { CHANNELS, type Channel } from '../../protocol/channels.ts';
import { splitMinor } from '../../protocol/money.ts';
import { clipsOf, Composer, type ClipStyle } from '../compose.ts';
import { ZH_TABLE_CURRENCY_WORDS, zhCurrencyWord } from '../currencies/zh.ts';
import { checkBattery, isEmptySummary, PROMPTS, unknownMessage } from '../messages.ts';
import { ZH_NUMBER_CHARS, zhDecimal, zhInteger } from '../numbers/zh.ts';
import type { Announcement, Message, Prompt, SpeechLanguage, Total } from '../types.ts';

const STYLE: ClipStyle = { space: '', key: (text) => text };

/**
 * Brand said before the verb. Paytm, PhonePe and Google Pay have no Chinese names in use, so the
 * brand is said as written (the way Chinese speakers say them); generic payments name no brand.
 */
const BRANDS: Readonly<Record<Channel, string>> = {
  wechat: '微信',
  alipay: '支付宝',
  unionpay: '云闪付',
  paytm: 'Paytm',
  phonepe: 'PhonePe',
  gpay: 'Google Pay',
  generic: '',
};

/** Alipay's speakers famously say 到账; the others say 收款. Every refund is 退款 after the brand. */
function verb(a: Pick<Announcement, 'channel' | 'kind'>): string {
  if (a.kind === 'refund') return '退款';
  return a.channel === 'alipay' ? '到账' : '收款';
}

/** The opening clip: brand and verb are recorded together because they are always said together. */
function prefix(a: Pick<Announcement, 'channel' | 'kind'>): string {
  return BRANDS[a.channel] + verb(a);
}

/** Said before a payment read out again (the replay button), as the counter boxes do: 重复播报，微信收款一元. */
const REPLAY = '重复播报';

const PROMPT_TEXTS: Readonly<Record<Prompt, string>> = {
  'power-on': '欢迎使用',
  'network-connected': '网络已连接',
  'network-lost': '网络已断开',
  'volume-max': '音量最大',
  'volume-min': '音量最小',
  'no-records': '暂无收款记录',
  'low-battery': '电量低，请充电',
};

/** Opening phrase per summary scope. 连续收款 ("received in a row") for a burst read as one sentence. */
const SCOPES = { today: '今日收款', offline: '离线期间收款', burst: '连续收款' } as const;

/** An amount and its currency word (十二点五元): each character of the number is a clip. */
function amount(out: Composer, money: Total): void {
  const { major, fraction } = splitMinor(money);
  for (const char of zhDecimal(major, fraction)) out.clip(char);
  out.clip(zhCurrencyWord(money.currency));
}

/** A count before the measure word 笔: exactly two is colloquially 两笔 (二笔 sounds like a misreading). */
function count(n: number): string {
  return n === 2 ? '两' : zhInteger(n);
}

function say(m: Message): Composer {
  const out = new Composer(STYLE);
  switch (m.type) {
    case 'payment':
      if (m.replay) out.clip(REPLAY).pause('，');
      out.clip(prefix(m.payment));
      amount(out, m.payment);
      return out;
    case 'prompt':
      return out.clip(PROMPT_TEXTS[m.prompt]);
    case 'battery':
      out.clip('电量').clip('百分之');
      for (const char of zhInteger(checkBattery(m.percent))) out.clip(char);
      return out;
    case 'summary': {
      if (isEmptySummary(m)) return out.clip(PROMPT_TEXTS['no-records']);
      out.clip(SCOPES[m.scope]);
      for (const char of count(m.count)) out.clip(char);
      out.clip('笔').pause('，').clip('共计');
      return out.list(m.totals, '，', amount);
    }
    default:
      return unknownMessage(m);
  }
}

function vocabulary(): string[] {
  return [
    ...CHANNELS.flatMap((channel) => [prefix({ channel, kind: 'payment' }), prefix({ channel, kind: 'refund' })]),
    ...ZH_NUMBER_CHARS,
    ...ZH_TABLE_CURRENCY_WORDS,
    ...PROMPTS.map((p) => PROMPT_TEXTS[p]),
    ...Object.values(SCOPES),
    '笔',
    '共计',
    '电量',
    '百分之',
    REPLAY,
  ];
}

export const zhCN: SpeechLanguage = {
  code: 'zh-CN',
  say: (m) => say(m).done(),
  vocabulary: () => clipsOf(STYLE, vocabulary()),
};

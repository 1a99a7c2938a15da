/**
 * Mandarin, as the speakers on Chinese shop counters say it: brand, verb, amount, currency word,
 * no pauses or punctuation (微信收款一百二十三点四五元, 支付宝到账一千零五元).
 */
import type { Channel } from '../../protocol/channels.ts';
import { splitMinor } from '../../protocol/money.ts';
import { zhCurrencyWord } from '../currencies/zh.ts';
import { zhDecimal } from '../numbers/zh.ts';
import type { Announcement, SpeechLanguage } from '../types.ts';

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
function verb(a: Announcement): string {
  if (a.kind === 'refund') return '退款';
  return a.channel === 'alipay' ? '到账' : '收款';
}

export const zhCN: SpeechLanguage = {
  code: 'zh-CN',
  say(m) {
    if (m.type !== 'payment') throw new Error(`${m.type} not implemented yet`);
    const a = m.payment;
    const { major, fraction } = splitMinor(a);
    const text = `${BRANDS[a.channel]}${verb(a)}${zhDecimal(major, fraction)}${zhCurrencyWord(a.currency)}`;
    return { text, clips: [text] };
  },
  vocabulary() {
    return [];
  },
};

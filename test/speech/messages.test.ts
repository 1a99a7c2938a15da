/** Everything a speaker says besides payments: prompts, summaries and battery levels, in every language. */
import { describe, expect, it } from 'vitest';
import { utter, type Language, type Message, type Prompt, type Total } from '../../src/speech/index.ts';

const PROMPTS: Record<Language, Record<Prompt, string>> = {
  'zh-CN': {
    'power-on': '欢迎使用',
    'network-connected': '网络已连接',
    'network-lost': '网络已断开',
    'volume-max': '音量最大',
    'volume-min': '音量最小',
    'no-records': '暂无收款记录',
    'low-battery': '电量低，请充电',
  },
  'en-US': {
    'power-on': 'Power on',
    'network-connected': 'Network connected',
    'network-lost': 'Network lost',
    'volume-max': 'Maximum volume',
    'volume-min': 'Minimum volume',
    'no-records': 'No payment records',
    'low-battery': 'Battery low, please charge',
  },
  'hi-IN': {
    'power-on': 'आपका स्वागत है',
    'network-connected': 'नेटवर्क कनेक्ट हो गया',
    'network-lost': 'नेटवर्क डिस्कनेक्ट हो गया',
    'volume-max': 'वॉल्यूम अधिकतम',
    'volume-min': 'वॉल्यूम न्यूनतम',
    'no-records': 'कोई भुगतान रिकॉर्ड नहीं है',
    'low-battery': 'बैटरी कम है, कृपया चार्ज करें',
  },
};

const cny = (amount: number): Total => ({ amount, currency: 'CNY' });
const usd = (amount: number): Total => ({ amount, currency: 'USD' });
const inr = (amount: number): Total => ({ amount, currency: 'INR' });

type SummaryRow = [scope: 'today' | 'offline' | 'burst', count: number, totals: Total[], spoken: string];

const SUMMARIES: Record<Language, SummaryRow[]> = {
  'zh-CN': [
    ['today', 3, [cny(12345)], '今日收款三笔，共计一百二十三点四五元'],
    ['today', 1, [cny(100)], '今日收款一笔，共计一元'],
    ['today', 2, [cny(2000)], '今日收款两笔，共计二十元'],
    ['today', 12, [cny(2000000)], '今日收款十二笔，共计两万元'],
    ['today', 22, [cny(50)], '今日收款二十二笔，共计零点五元'],
    ['today', 200, [cny(100)], '今日收款两百笔，共计一元'],
    ['today', 2, [cny(1000), usd(500)], '今日收款两笔，共计十元，五美元'],
    ['today', 0, [], '暂无收款记录'],
    ['today', 0, [cny(0)], '暂无收款记录'],
    ['today', 3, [], '暂无收款记录'],
    ['offline', 3, [cny(12345)], '离线期间收款三笔，共计一百二十三点四五元'],
    ['offline', 0, [], '暂无收款记录'],
    ['burst', 12, [cny(9900), inr(5000)], '连续收款十二笔，共计九十九元，五十卢比'],
  ],
  'en-US': [
    ['today', 3, [cny(12345)], 'Today: three payments, total one hundred twenty-three yuan and forty-five fen'],
    ['today', 1, [usd(100)], 'Today: one payment, total one dollar'],
    ['today', 2, [usd(2000)], 'Today: two payments, total twenty dollars'],
    ['today', 21, [usd(1)], 'Today: twenty-one payments, total one cent'],
    ['today', 2, [cny(1000), usd(550)], 'Today: two payments, total ten yuan, five dollars and fifty cents'],
    ['today', 0, [], 'No payment records'],
    ['today', 4, [], 'No payment records'],
    ['offline', 3, [inr(25000)], 'While offline: three payments, total two hundred fifty rupees'],
    ['offline', 0, [], 'No payment records'],
    ['burst', 12, [usd(9900)], 'In a row: twelve payments, total ninety-nine dollars'],
  ],
  'hi-IN': [
    ['today', 3, [inr(12345)], 'आज तीन भुगतान, कुल एक सौ तेईस रुपये और पैंतालीस पैसे'],
    ['today', 1, [inr(100)], 'आज एक भुगतान, कुल एक रुपया'],
    ['today', 21, [inr(10000000)], 'आज इक्कीस भुगतान, कुल एक लाख रुपये'],
    ['today', 2, [inr(1000), usd(500)], 'आज दो भुगतान, कुल दस रुपये, पाँच डॉलर'],
    ['today', 0, [], 'कोई भुगतान रिकॉर्ड नहीं है'],
    ['today', 5, [], 'कोई भुगतान रिकॉर्ड नहीं है'],
    ['offline', 3, [inr(25000)], 'ऑफ़लाइन रहते हुए तीन भुगतान, कुल दो सौ पचास रुपये'],
    ['offline', 0, [], 'कोई भुगतान रिकॉर्ड नहीं है'],
    ['burst', 12, [inr(99)], 'लगातार बारह भुगतान, कुल निन्यानवे पैसे'],
  ],
};

const BATTERY: Record<Language, [percent: number, spoken: string][]> = {
  'zh-CN': [
    [80, '电量百分之八十'],
    [100, '电量百分之一百'],
    [0, '电量百分之零'],
    [2, '电量百分之二'],
    [15, '电量百分之十五'],
    [45, '电量百分之四十五'],
  ],
  'en-US': [
    [80, 'Battery eighty percent'],
    [100, 'Battery one hundred percent'],
    [0, 'Battery zero percent'],
    [1, 'Battery one percent'],
    [45, 'Battery forty-five percent'],
  ],
  'hi-IN': [
    [80, 'बैटरी अस्सी प्रतिशत'],
    [100, 'बैटरी एक सौ प्रतिशत'],
    [0, 'बैटरी शून्य प्रतिशत'],
    [5, 'बैटरी पाँच प्रतिशत'],
    [45, 'बैटरी पैंतालीस प्रतिशत'],
  ],
};

const LANGS = Object.keys(PROMPTS) as Language[];

describe.each(LANGS)('%s messages', (lang) => {
  it.each(Object.entries(PROMPTS[lang]))('prompt %s → %s', (prompt, spoken) => {
    expect(utter({ type: 'prompt', prompt: prompt as Prompt }, lang).text).toBe(spoken);
  });

  it.each(SUMMARIES[lang])('summary %s, %i payments, %j → %s', (scope, count, totals, spoken) => {
    expect(utter({ type: 'summary', scope, count, totals }, lang).text).toBe(spoken);
  });

  it.each(BATTERY[lang])('battery %i%% → %s', (percent, spoken) => {
    expect(utter({ type: 'battery', percent }, lang).text).toBe(spoken);
  });

  it('says an empty summary exactly as the no-records prompt, clips included', () => {
    const empty = utter({ type: 'summary', scope: 'today', count: 0, totals: [] }, lang);
    expect(empty).toEqual(utter({ type: 'prompt', prompt: 'no-records' }, lang));
  });

  it.each([101, -1, 50.5, Number.NaN])('refuses battery level %s with a RangeError naming it', (percent) => {
    expect(() => utter({ type: 'battery', percent }, lang)).toThrow(new RegExp(`battery level ${percent}.*0 to 100`));
  });

  it.each([-1, 1.5])('refuses summary count %s', (count) => {
    const m: Message = { type: 'summary', scope: 'today', count, totals: [cny(100)] };
    expect(() => utter(m, lang)).toThrow(RangeError);
  });

  it('has a table for every prompt', () => {
    expect(Object.keys(PROMPTS[lang]).sort()).toEqual(Object.keys(PROMPTS['zh-CN']).sort());
  });
});

/** The clips themselves, for a few sentences written out by hand. */
describe('clips', () => {
  it.each<[Language, Message, string[]]>([
    [
      'zh-CN',
      { type: 'payment', payment: { amount: 12345, currency: 'CNY', channel: 'wechat', kind: 'payment' } },
      ['微信收款', '一', '百', '二', '十', '三', '点', '四', '五', '元'],
    ],
    [
      'zh-CN',
      { type: 'payment', payment: { amount: 200000, currency: 'USD', channel: 'alipay', kind: 'refund' } },
      ['支付宝退款', '两', '千', '美元'],
    ],
    [
      'zh-CN',
      { type: 'payment', payment: { amount: 100, currency: 'CNY', channel: 'generic', kind: 'payment' } },
      ['收款', '一', '元'],
    ],
    [
      'zh-CN',
      { type: 'summary', scope: 'today', count: 2, totals: [cny(1000), usd(500)] },
      ['今日收款', '两', '笔', '共计', '十', '元', '五', '美元'],
    ],
    ['zh-CN', { type: 'battery', percent: 80 }, ['电量', '百分之', '八', '十']],
    [
      'en-US',
      { type: 'payment', payment: { amount: 12345, currency: 'CNY', channel: 'wechat', kind: 'payment' } },
      ['received', 'one', 'hundred', 'twenty', 'three', 'yuan', 'and', 'forty', 'five', 'fen', 'on wechat pay'],
    ],
    [
      'en-US',
      { type: 'summary', scope: 'offline', count: 1, totals: [usd(100)] },
      ['while offline', 'one', 'payment', 'total', 'one', 'dollar'],
    ],
    ['en-US', { type: 'prompt', prompt: 'low-battery' }, ['battery low, please charge']],
    [
      'hi-IN',
      { type: 'payment', payment: { amount: 12350, currency: 'INR', channel: 'paytm', kind: 'payment' } },
      ['paytm पर', 'एक', 'सौ', 'तेईस', 'रुपये', 'और', 'पचास', 'पैसे', 'प्राप्त हुए'],
    ],
    [
      'hi-IN',
      { type: 'payment', payment: { amount: 100, currency: 'INR', channel: 'generic', kind: 'refund' } },
      ['एक', 'रुपया', 'रिफ़ंड हुआ'],
    ],
    [
      'hi-IN',
      { type: 'summary', scope: 'burst', count: 3, totals: [inr(100000)] },
      ['लगातार', 'तीन', 'भुगतान', 'कुल', 'एक', 'हज़ार', 'रुपये'],
    ],
    ['hi-IN', { type: 'battery', percent: 100 }, ['बैटरी', 'एक', 'सौ', 'प्रतिशत']],
  ])('%s %j → %j', (lang, message, clips) => {
    expect(utter(message, lang).clips).toEqual(clips);
  });
});

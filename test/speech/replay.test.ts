/**
 * A payment said again (the replay button or command) must not sound like a new one: it opens
 * with a prefix in every language — in the text a TTS engine reads and in the clips a voice pack
 * joins — and that prefix is a clip every voice pack records.
 */
import { describe, expect, it } from 'vitest';
import { LANGUAGES, utter, vocabulary, type Announcement, type Language } from '../../src/speech/index.ts';

const PREFIX: Record<Language, { text: string; clip: string }> = {
  'zh-CN': { text: '重复播报，', clip: '重复播报' },
  'en-US': { text: 'Repeat: ', clip: 'repeat' },
  'hi-IN': { text: 'दोबारा: ', clip: 'दोबारा' },
};

const payments: Announcement[] = [
  { amount: 100, currency: 'CNY', channel: 'wechat', kind: 'payment' },
  { amount: 12_345, currency: 'INR', channel: 'paytm', kind: 'refund' },
  { amount: 500, currency: 'USD', channel: 'generic', kind: 'payment' },
];

describe.each(LANGUAGES)('%s replay', (lang) => {
  const { text, clip } = PREFIX[lang];

  it('opens with the prefix, then says exactly the payment; a new payment has no prefix', () => {
    for (const payment of payments) {
      const fresh = utter({ type: 'payment', payment }, lang);
      const again = utter({ type: 'payment', payment, replay: true }, lang);
      expect(again.text).toBe(text + fresh.text);
      expect(again.clips).toEqual([clip, ...fresh.clips]);
      expect(fresh.text.startsWith(text.trim())).toBe(false);
      expect(fresh.clips[0]).not.toBe(clip);
      expect(utter({ type: 'payment', payment, replay: false }, lang)).toEqual(fresh);
    }
  });

  it('is a clip of the voice pack, so a clips voice can say it', () => {
    expect(vocabulary(lang).map((c) => c.key)).toContain(clip);
  });
});

it('says the example of the issue: 重复播报，微信收款一元', () => {
  expect(utter({ type: 'payment', payment: payments[0]!, replay: true }, 'zh-CN').text).toBe('重复播报，微信收款一元');
});

import { describe, expect, it } from 'vitest';
import { LANGUAGES, isLanguage, phrase, utter, vocabulary, type Message } from '../../src/speech/index.ts';

describe('speech registry', () => {
  it('lists zh-CN first (the default), then en-US and hi-IN', () => {
    expect(LANGUAGES).toEqual(['zh-CN', 'en-US', 'hi-IN']);
    expect(Object.isFrozen(LANGUAGES)).toBe(true);
  });

  it.each(['zh-CN', 'en-US', 'hi-IN'])('accepts %s', (x) => {
    expect(isLanguage(x)).toBe(true);
  });

  it.each(['zh-cn', 'en', 'hi', 'hi-in', '', 'toString', '__proto__', 'constructor', 1, null, undefined, ['zh-CN']])(
    'rejects %j',
    (x) => {
      expect(isLanguage(x)).toBe(false);
    },
  );

  it('dispatches to the language asked for', () => {
    const a = { amount: 1000, currency: 'CNY', channel: 'wechat', kind: 'payment' } as const;
    expect(phrase(a, 'zh-CN')).toBe('微信收款十元');
    expect(phrase(a, 'en-US')).toBe('Received ten yuan on WeChat Pay');
    expect(phrase(a, 'hi-IN')).toBe('WeChat Pay पर दस युआन प्राप्त हुए');
    expect(utter({ type: 'prompt', prompt: 'power-on' }, 'zh-CN')).toEqual({ text: '欢迎使用', clips: ['欢迎使用'] });
  });

  it.each(LANGUAGES)('%s: phrase is the text of the payment utterance', (lang) => {
    const a = { amount: 12345, currency: 'INR', channel: 'paytm', kind: 'refund' } as const;
    expect(phrase(a, lang)).toBe(utter({ type: 'payment', payment: a }, lang).text);
  });

  it.each(LANGUAGES)('%s: vocabulary is not empty and lists clips with keys and texts', (lang) => {
    const clips = vocabulary(lang);
    expect(clips.length).toBeGreaterThan(40);
    for (const clip of clips) {
      expect(clip.key).not.toBe('');
      expect(clip.text).not.toBe('');
    }
  });

  it.each(LANGUAGES)('%s: refuses a message of unknown type with a TypeError naming it', (lang) => {
    expect(() => utter({ type: 'jingle' } as unknown as Message, lang)).toThrow(/jingle/);
  });
});

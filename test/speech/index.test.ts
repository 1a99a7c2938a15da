import { describe, expect, it } from 'vitest';
import { LANGUAGES, isLanguage, phrase } from '../../src/speech/index.ts';

describe('speech registry', () => {
  it('lists zh-CN first (the default) and en-US', () => {
    expect(LANGUAGES).toEqual(['zh-CN', 'en-US']);
    expect(Object.isFrozen(LANGUAGES)).toBe(true);
  });

  it.each(['zh-CN', 'en-US'])('accepts %s', (x) => {
    expect(isLanguage(x)).toBe(true);
  });

  it.each(['zh-cn', 'en', 'hi-IN', '', 'toString', '__proto__', 'constructor', 1, null, undefined, ['zh-CN']])('rejects %j', (x) => {
    expect(isLanguage(x)).toBe(false);
  });

  it('dispatches to the language asked for', () => {
    const a = { amount: 1000, currency: 'CNY', channel: 'wechat', kind: 'payment' } as const;
    expect(phrase(a, 'zh-CN')).toBe('微信收款十元');
    expect(phrase(a, 'en-US')).toBe('Received ten yuan on WeChat Pay');
  });
});

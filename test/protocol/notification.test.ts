import { describe, expect, it } from 'vitest';
import { MAX_NOTIFICATION_BYTES, parseNotification, type RejectionReason } from '../../src/protocol/index.ts';

const DEVICE = 'SPK-0001';
const valid = {
  v: 1,
  id: 'PAY-1',
  device: DEVICE,
  amount: 12345,
  currency: 'CNY',
  channel: 'wechat',
  kind: 'payment',
  createdAt: 1_795_000_000_000,
};
const json = (o: unknown) => JSON.stringify(o);
const without = (field: string) => json(Object.fromEntries(Object.entries(valid).filter(([k]) => k !== field)));
const withField = (field: string, value: unknown) => json({ ...valid, [field]: value });

describe('parseNotification', () => {
  it('accepts a valid notification and returns exactly its fields', () => {
    const result = parseNotification(json({ ...valid, extra: 'ignored' }), DEVICE);
    expect(result).toEqual({ ok: true, notification: valid });
  });

  it.each([
    ['KWD with 3 decimals', { currency: 'KWD', amount: 1005 }],
    ['JPY with none', { currency: 'JPY', amount: 500 }],
    ['the largest readable CNY amount', { amount: 9_999_999_999_999 }],
    ['a refund', { kind: 'refund' }],
    ['an id with dots and colons', { id: 'order:2026.11.24-7' }],
  ])('accepts %s', (_name, patch) => {
    expect(parseNotification(json({ ...valid, ...patch }), DEVICE).ok).toBe(true);
  });

  const hostile: [string, string | Uint8Array, RejectionReason, RegExp][] = [
    ['oversized payload', json({ ...valid, pad: 'x'.repeat(MAX_NOTIFICATION_BYTES) }), 'payload-too-large', /bytes/],
    ['1 MB payload', Buffer.alloc(1 << 20, 0x7b), 'payload-too-large', /at most 4096/],
    ['truncated JSON', json(valid).slice(0, 30), 'malformed-json', /not valid JSON/],
    ['empty payload', '', 'malformed-json', /not valid JSON/],
    ['invalid UTF-8 bytes', Buffer.from([0xff, 0xfe, 0x7b]), 'malformed-json', /not valid JSON/],
    ['a JSON array', json([valid]), 'not-an-object', /not a JSON object/],
    ['JSON null', 'null', 'not-an-object', /not a JSON object/],
    ['a bare number', '12345', 'not-an-object', /not a JSON object/],
    ['no version', without('v'), 'unsupported-version', /protocol v1/],
    ['version 2', withField('v', 2), 'unsupported-version', /"v" is 2/],
    ['version as string', withField('v', '1'), 'unsupported-version', /"v" is "1"/],
    ['missing id', without('id'), 'missing-field', /"id" is missing/],
    ['missing amount', without('amount'), 'missing-field', /"amount" is missing/],
    ['missing currency', without('currency'), 'missing-field', /"currency" is missing/],
    ['missing createdAt', without('createdAt'), 'missing-field', /"createdAt" is missing/],
    ['null amount', withField('amount', null), 'missing-field', /"amount" is missing/],
    ['numeric id', withField('id', 42), 'invalid-id', /"id" is 42/],
    ['id with a slash', withField('id', 'a/b'), 'invalid-id', /"id" is "a\/b"/],
    ['id too long', withField('id', 'x'.repeat(65)), 'invalid-id', /1-64/],
    ['another device', withField('device', 'SPK-0002'), 'wrong-device', /addressed to "SPK-0002"/],
    ['amount as string', withField('amount', '123.45'), 'invalid-amount', /"amount" is "123.45"/],
    ['fractional amount', withField('amount', 123.45), 'invalid-amount', /positive integer of minor units/],
    ['zero amount', withField('amount', 0), 'invalid-amount', /"amount" is 0/],
    ['negative amount', withField('amount', -100), 'invalid-amount', /"amount" is -100/],
    ['1e400 (parses to Infinity)', json(valid).replace('12345', '1e400'), 'invalid-amount', /"amount" is Infinity/],
    ['boolean amount', withField('amount', true), 'invalid-amount', /"amount" is true/],
    ['huge amount', withField('amount', 10_000_000_000_000), 'amount-out-of-range', /largest a speaker reads/],
    ['unsafe integer amount', withField('amount', 2 ** 60), 'invalid-amount', /positive integer/],
    ['unknown currency', withField('currency', 'ABC'), 'unknown-currency', /"currency" is "ABC"/],
    ['lower-case currency', withField('currency', 'cny'), 'unknown-currency', /ISO 4217/],
    ['gold is not money', withField('currency', 'XAU'), 'unknown-currency', /ISO 4217/],
    ['unknown channel', withField('channel', 'venmo'), 'unknown-channel', /one of wechat/],
    ['unknown kind', withField('kind', 'chargeback'), 'unknown-kind', /one of payment, refund/],
    [
      'timestamp as ISO string',
      withField('createdAt', '2026-11-24T00:00:00Z'),
      'invalid-timestamp',
      /epoch milliseconds/,
    ],
    ['negative timestamp', withField('createdAt', -1), 'invalid-timestamp', /epoch milliseconds/],
  ];

  it.each(hostile)('rejects %s as %s', (_name, payload, reason, detail) => {
    const result = parseNotification(payload, DEVICE);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.reason).toBe(reason);
    expect(result.rejection.detail).toMatch(detail);
  });

  it('reports the payment id in a rejection when the id itself was readable', () => {
    const result = parseNotification(withField('amount', -1), DEVICE);
    expect(result).toMatchObject({ ok: false, rejection: { id: 'PAY-1' } });
    const broken = parseNotification('{"id":', DEVICE);
    expect(broken).toMatchObject({ ok: false, rejection: { id: null } });
  });

  it('is not fooled by __proto__ or constructor keys', () => {
    const payload = `{"__proto__":{"amount":1},"constructor":{"prototype":{}},${json(valid).slice(1)}`;
    const result = parseNotification(payload, DEVICE);
    expect(result).toEqual({ ok: true, notification: valid });
    const noAmount = `{"__proto__":{"amount":100},${without('amount').slice(1)}`;
    expect(parseNotification(noAmount, DEVICE)).toMatchObject({ ok: false, rejection: { reason: 'missing-field' } });
    expect(({} as Record<string, unknown>).amount).toBeUndefined();
  });
});

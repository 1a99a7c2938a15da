// The console's pure bookkeeping: amounts typed as decimals, live updates merged into lists.
import { describe, expect, it } from 'vitest';
import {
  amountToMinor,
  formatMoney,
  mergeDevice,
  mergePayment,
  newIdempotencyKey,
  reportedOf,
  speakersFromQuery,
} from '../../console/store.ts';
import type { Device, Payment } from '../../console/api.ts';

describe('amountToMinor', () => {
  it.each([
    ['123.45', 'CNY', 12345],
    ['19.99', 'USD', 1999], // 19.99 * 100 is 1998.9999999999998 in floating point
    ['1.15', 'INR', 115],
    ['0.29', 'CNY', 29],
    ['10', 'CNY', 1000],
    ['10.5', 'CNY', 1050],
    ['500', 'JPY', 500],
    ['1.234', 'KWD', 1234],
    ['1', 'KWD', 1000],
    [' 7 ', 'cny', 700],
    ['12,50', 'EUR', 1250],
    ['99999999999.99', 'CNY', 9999999999999],
  ])('%s %s → %i minor units', (text, currency, minor) => {
    expect(amountToMinor(text, currency)).toEqual({ ok: true, minor });
  });

  it.each([
    ['1.5', 'JPY', /0 decimal/],
    ['1.234', 'CNY', /3 decimals but CNY has 2/],
    ['-5', 'CNY', /negative/],
    ['1e3', 'CNY', /plain decimal/],
    ['1,000.00', 'CNY', /plain decimal/],
    ['', 'CNY', /plain decimal/],
    ['0', 'CNY', /greater than zero/],
    ['100000000000', 'CNY', /too large/],
    ['5', 'XYZ', /not an ISO 4217 code/],
  ])('refuses %j in %s with words a user can act on', (text, currency, message) => {
    const r = amountToMinor(text, currency);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});

describe('formatMoney', () => {
  it('shows the currency’s own decimals', () => {
    expect(formatMoney(12345, 'CNY')).toBe('123.45 CNY');
    expect(formatMoney(500, 'JPY')).toBe('500 JPY');
    expect(formatMoney(1005, 'KWD')).toBe('1.005 KWD');
    expect(formatMoney(5, 'CNY')).toBe('0.05 CNY');
  });
});

const pay = (id: string, createdAt: number, updatedAt = createdAt, status: Payment['status'] = 'queued'): Payment => ({
  id,
  device: 'SPK-1',
  amount: 100,
  currency: 'CNY',
  channel: 'wechat',
  kind: 'payment',
  idempotencyKey: null,
  status,
  attempts: 1,
  createdAt,
  updatedAt,
  expiresAt: createdAt + 3_600_000,
  deliveredAt: null,
  finishedAt: null,
});

describe('mergePayment', () => {
  it('keeps the list newest first and updates a row in place', () => {
    let list = [pay('B', 2), pay('A', 1)];
    list = mergePayment(list, pay('C', 3));
    list = mergePayment(list, pay('A', 1, 5, 'played'));
    expect(list.map((p) => `${p.id}:${p.status}`)).toEqual(['C:queued', 'B:queued', 'A:played']);
  });

  it('puts a late arrival where its creation time belongs', () => {
    const list = mergePayment([pay('C', 3), pay('A', 1)], pay('B', 2));
    expect(list.map((p) => p.id)).toEqual(['C', 'B', 'A']);
  });

  it('ignores an update older than the row (a reload crossing an event)', () => {
    const list = [pay('A', 1, 9, 'played')];
    expect(mergePayment(list, pay('A', 1, 4, 'delivered'))[0]!.status).toBe('played');
  });

  it('keeps a fetched history when an update carries none', () => {
    const history = [{ at: 1, event: 'accepted', status: 'queued' as const }];
    const list = [{ ...pay('A', 1), history }];
    expect(mergePayment(list, pay('A', 1, 2, 'delivered'))[0]!.history).toEqual(history);
  });
});

describe('mergeDevice', () => {
  it('merges the fields an update carries and keeps the list by id', () => {
    let list: Device[] = [{ id: 'SPK-2', online: false }];
    list = mergeDevice(list, { id: 'SPK-1', online: true });
    list = mergeDevice(list, { id: 'SPK-2', online: true, lastSeen: 5 });
    expect(list).toEqual([
      { id: 'SPK-1', online: true },
      { id: 'SPK-2', online: true, lastSeen: 5 },
    ]);
  });
});

describe('reportedOf', () => {
  it('reads firmware, language and volume from the retained state, and nothing of the wrong type', () => {
    expect(
      reportedOf({ id: 'A', state: { online: true, firmware: '0.1.0', lang: 'zh-CN', volume: 7, at: 1 } }),
    ).toEqual({ firmware: '0.1.0', lang: 'zh-CN', volume: 7 });
    expect(reportedOf({ id: 'A', state: null })).toEqual({ firmware: null, lang: null, volume: null });
    expect(reportedOf({ id: 'A', state: { volume: '7' as unknown as number } }).volume).toBeNull();
  });
});

describe('speakersFromQuery', () => {
  it('reads repeated and comma-separated ids, once each, and drops what is not a device id', () => {
    expect(speakersFromQuery('?speaker=SPK-WEB-1&speaker=SPK-WEB-2,SPK-WEB-1&speaker=../x&speaker=')).toEqual([
      'SPK-WEB-1',
      'SPK-WEB-2',
    ]);
    expect(speakersFromQuery('')).toEqual([]);
  });
});

describe('newIdempotencyKey', () => {
  it('is printable ASCII the API accepts, and differs each time', () => {
    const a = newIdempotencyKey();
    expect(a).toMatch(/^console-[0-9a-f]{16}$/);
    expect(newIdempotencyKey()).not.toBe(a);
  });
});

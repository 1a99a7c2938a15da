/** The device's payment memory on NVS: dedupe, its horizon, and what survives a reboot. */
import { describe, expect, it } from 'vitest';
import { PaymentStore } from '../../device/stores/payments.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { makeNotification } from '../../src/protocol/index.ts';
import { silentLogger } from '../../src/log.ts';
import { until } from '../support/mqtt.ts';

const clock = { now: () => Date.UTC(2026, 10, 24, 12) };
const PLAYED = { status: 'played', text: '微信收款一元' } as const;
const pay = (i: number) =>
  makeNotification({
    id: `P-${i}`,
    device: 'SPK-1',
    amount: 100 * i,
    currency: 'CNY',
    channel: 'wechat',
    kind: 'payment',
    createdAt: 1000 + i,
  });

describe('PaymentStore', () => {
  it('forgets the oldest ids beyond its capacity, and refuses anything as old as what it forgot', async () => {
    const nvs = createMemoryNvs();
    const store = new PaymentStore(nvs, clock, silentLogger, 3);
    for (const i of [1, 2, 3, 4]) {
      await store.accept(pay(i));
      await store.finish([pay(i)], PLAYED);
    }
    expect(store.isHandled('P-1')).toBe(false); // evicted
    expect(store.isHandled('P-4')).toBe(true);
    expect(store.isBeyondMemory(pay(1).createdAt)).toBe(true); // so a replay of P-1 is not announced again
    expect(store.isBeyondMemory(pay(2).createdAt)).toBe(false);

    const rebooted = new PaymentStore(nvs, clock, silentLogger, 3);
    expect(rebooted.isBeyondMemory(pay(1).createdAt)).toBe(true);
    expect(rebooted.isHandled('P-3')).toBe(true);
    expect(rebooted.today()).toEqual({ count: 4, totals: [{ currency: 'CNY', amount: 1000 }] });
  });

  it('ignores a stored value of the wrong shape with a warning instead of failing to boot', async () => {
    const nvs = createMemoryNvs({ 'payments.handled': 5, 'payments.inbox': 'nonsense' });
    const store = new PaymentStore(nvs, clock, silentLogger);
    expect(store.pending()).toEqual([]);
    expect(store.isHandled('anything')).toBe(false);
  });

  it('owes the final ack of what it played until the broker has it, across a reboot', async () => {
    const nvs = createMemoryNvs();
    const store = new PaymentStore(nvs, clock, silentLogger);
    for (const i of [1, 2, 3]) await store.accept(pay(i));
    await store.finish([pay(1), pay(2)], { status: 'summarized', text: '收款两笔' });
    await store.ackDelivered('P-1');

    const rebooted = new PaymentStore(nvs, clock, silentLogger);
    expect(rebooted.owedAcks()).toEqual([['P-2', { status: 'summarized', text: '收款两笔' }]]);
    expect(rebooted.pending().map((n) => n.id)).toEqual(['P-3']);
    // A play that failed after all owes nothing: the payment is rejected and may be retried.
    await rebooted.drop([pay(2)]);
    expect(new PaymentStore(nvs, clock, silentLogger).owedAcks()).toEqual([]);
  });

  it('owes at most as many acks as it remembers ids: the oldest unconfirmed go, with a warning', async () => {
    const nvs = createMemoryNvs();
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_o: unknown, msg: string) => void warnings.push(msg) } as typeof silentLogger;
    const store = new PaymentStore(nvs, clock, log, 3);
    for (const i of [1, 2, 3, 4, 5]) {
      await store.accept(pay(i));
      await store.finish([pay(i)], PLAYED); // the broker never confirms one
    }
    expect(store.owedAcks().map(([id]) => id)).toEqual(['P-3', 'P-4', 'P-5']);
    expect(nvs.keys('payments.ack.').length).toBe(3);
    expect(new PaymentStore(nvs, clock, silentLogger, 3).owedAcks().map(([id]) => id)).toEqual(['P-3', 'P-4', 'P-5']);
    expect(warnings).toEqual([
      'dropped the 1 oldest final acks the broker never confirmed: at most 3 are kept',
      'dropped the 1 oldest final acks the broker never confirmed: at most 3 are kept',
    ]);
  });

  it('keeps one key per payment, so one payment is one small write', async () => {
    const nvs = createMemoryNvs();
    const store = new PaymentStore(nvs, clock, silentLogger, 2);
    for (const i of [1, 2, 3]) {
      await store.accept(pay(i));
      await store.finish([pay(i)], PLAYED);
    }
    await store.accept(pay(4));
    expect(nvs.keys('payments.inbox.')).toEqual(['payments.inbox.P-4']);
    expect(nvs.keys('payments.handled.').sort()).toEqual(['payments.handled.P-2', 'payments.handled.P-3']);
    expect(nvs.get('payments.inbox.P-4')).toEqual(pay(4));
  });

  it('moves memory written by older firmware (two arrays, an in-flight announcement) to one key per payment', async () => {
    const nvs = createMemoryNvs({
      'payments.inbox': [pay(3)],
      'payments.handled': [
        ['P-1', pay(1).createdAt],
        ['P-2', pay(2).createdAt],
      ],
      'payments.inFlight': { key: 'k', token: null, ids: ['P-2'], status: 'played', text: '微信收款二元' },
    });
    const store = new PaymentStore(nvs, clock, silentLogger, 2);
    expect(store.pending().map((n) => n.id)).toEqual(['P-3']);
    expect(store.isHandled('P-1') && store.isHandled('P-2')).toBe(true);
    expect(store.owedAcks()).toEqual([['P-2', { status: 'played', text: '微信收款二元' }]]);
    await until(() => nvs.get('payments.inbox') === undefined, 'the old keys removed');
    expect(nvs.get('payments.handled')).toBeUndefined();

    // Eviction order survives the move: P-1 was handled first, so it is forgotten first.
    const rebooted = new PaymentStore(nvs, clock, silentLogger, 2);
    await rebooted.finish([pay(3)], PLAYED);
    expect([rebooted.isHandled('P-1'), rebooted.isHandled('P-2'), rebooted.isHandled('P-3')]).toEqual([
      false,
      true,
      true,
    ]);
  });
});

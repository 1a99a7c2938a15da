/** The device's payment memory on NVS: dedupe, its horizon, and what survives a reboot. */
import { describe, expect, it } from 'vitest';
import { PaymentStore } from '../../device/stores/payments.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { makeNotification } from '../../src/protocol/index.ts';
import { silentLogger } from '../../src/log.ts';

const clock = { now: () => Date.UTC(2026, 10, 24, 12) };
const pay = (i: number) =>
  makeNotification({ id: `P-${i}`, device: 'SPK-1', amount: 100 * i, currency: 'CNY', channel: 'wechat', kind: 'payment', createdAt: 1000 + i });

describe('PaymentStore', () => {
  it('forgets the oldest ids beyond its capacity, and refuses anything as old as what it forgot', async () => {
    const nvs = createMemoryNvs();
    const store = new PaymentStore(nvs, clock, silentLogger, 3);
    for (const i of [1, 2, 3, 4]) {
      await store.accept(pay(i));
      await store.finish([pay(i)]);
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
});

/**
 * Everything the device must remember about payments, in NVS, so a reboot (even `kill -9`)
 * neither repeats nor loses one:
 *   inbox      notifications accepted (PUBACK sent) but not yet announced or summarized;
 *   handled    the ids of the last ≥1,000 payments already dealt with (dedupe);
 *   ledger     the last payment (replay) and today's takings (summary).
 * A notification enters the inbox durably before its PUBACK goes back, and leaves it in the
 * same write that marks it handled and books it in the ledger.
 */
import type { Notification } from '../../src/protocol/index.ts';
import type { Total } from '../../src/speech/index.ts';
import type { Nvs } from '../drivers/nvs.ts';
import type { Clock } from '../board.ts';

const HANDLED = 'payments.handled';
const INBOX = 'payments.inbox';
const LAST = 'ledger.last';
const TODAY = 'ledger.today';

interface Today {
  /** Local calendar date, YYYY-MM-DD: the totals start again when it changes. */
  date: string;
  count: number;
  /** Minor units per ISO 4217 currency. */
  totals: Record<string, number>;
}

export function localDate(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export class PaymentStore {
  private readonly handled: Set<string>;
  private readonly inbox: Map<string, Notification>;

  constructor(
    private readonly nvs: Nvs,
    private readonly clock: Clock,
    private readonly capacity = 1000,
  ) {
    this.handled = new Set(nvs.get<string[]>(HANDLED) ?? []);
    this.inbox = new Map((nvs.get<Notification[]>(INBOX) ?? []).map((n) => [n.id, n]));
  }

  /** True for an id already handled or waiting in the inbox: a repeat must not be announced. */
  isKnown(id: string): boolean {
    return this.handled.has(id) || this.inbox.has(id);
  }

  /** Notifications accepted before the last shutdown or crash and not yet announced. */
  pending(): Notification[] {
    return [...this.inbox.values()];
  }

  /** Puts a notification in the inbox; resolves once that is durable (then it may be PUBACKed). */
  accept(n: Notification): Promise<void> {
    this.inbox.set(n.id, n);
    return this.nvs.set({ [INBOX]: [...this.inbox.values()] });
  }

  /** Marks notifications announced or summarized: out of the inbox, into dedupe and the ledger. */
  finish(done: Notification[]): Promise<void> {
    for (const n of done) {
      this.inbox.delete(n.id);
      this.handled.add(n.id);
    }
    for (const oldest of this.handled) {
      if (this.handled.size <= this.capacity) break;
      this.handled.delete(oldest); // a Set iterates in insertion order: oldest first
    }
    const today = this.current();
    for (const n of done) {
      if (n.kind !== 'payment') continue;
      today.count += 1;
      today.totals[n.currency] = (today.totals[n.currency] ?? 0) + n.amount;
    }
    const last = done.length ? { [LAST]: done[done.length - 1] } : {};
    return this.nvs.set({ [INBOX]: [...this.inbox.values()], [HANDLED]: [...this.handled], [TODAY]: today, ...last });
  }

  /** Takes a notification out of the inbox without marking it handled (it could not be played). */
  drop(id: string): Promise<void> {
    this.inbox.delete(id);
    return this.nvs.set({ [INBOX]: [...this.inbox.values()] });
  }

  lastPayment(): Notification | null {
    return this.nvs.get<Notification>(LAST) ?? null;
  }

  today(): { count: number; totals: Total[] } {
    const t = this.current();
    return { count: t.count, totals: Object.entries(t.totals).map(([currency, amount]) => ({ currency, amount })) };
  }

  private current(): Today {
    const date = localDate(this.clock.now());
    const stored = this.nvs.get<Today>(TODAY);
    return stored && stored.date === date ? { ...stored, totals: { ...stored.totals } } : { date, count: 0, totals: {} };
  }
}

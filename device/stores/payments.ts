/**
 * Everything the device must remember about payments, in NVS, so a reboot (even `kill -9`)
 * neither repeats nor loses one:
 *   inbox      notifications accepted (PUBACK sent) but not yet announced or summarized;
 *   handled    the ids of the last 1,000 payments already dealt with (dedupe), and the age
 *              below which a payment is refused because its id may have been forgotten;
 *   ledger     the last payment (replay) and today's takings (summary).
 * A notification enters the inbox durably before its PUBACK goes back, and leaves it in the
 * same write that marks it handled and books it in the ledger.
 */
import type { Notification } from '../../src/protocol/index.ts';
import type { Total } from '../../src/speech/index.ts';
import type { Nvs } from '../drivers/nvs.ts';
import type { Clock } from '../board.ts';
import type { Logger } from '../../src/log.ts';

const HANDLED = 'payments.handled';
/** The newest createdAt among ids evicted from `handled`: anything as old could be a replay we no longer recognise. */
const FORGOTTEN_UP_TO = 'payments.forgottenUpTo';
const INBOX = 'payments.inbox';
const IN_FLIGHT = 'payments.inFlight';
const LAST = 'ledger.last';
const TODAY = 'ledger.today';

interface Today {
  /** Local calendar date, YYYY-MM-DD: the totals start again when it changes. */
  date: string;
  count: number;
  /** Minor units per ISO 4217 currency. */
  totals: Record<string, number>;
}

/**
 * An announcement marked done whose audio was staged but maybe not yet let out when the device
 * died: on boot the board finishes the commit (if its output can) and the acks go out.
 */
export interface InFlight {
  /** Unique per announcement, so settling one never clears the record of the next. */
  key: string;
  /** What the board needs to finish letting the sound out (recorders only); null for a loudspeaker. */
  token: string | null;
  ids: string[];
  status: 'played' | 'summarized';
  /** For summaries: which kind, so the restarted device can report it. */
  scope?: 'offline' | 'burst';
  text: string;
}

export function localDate(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export class PaymentStore {
  /** id → createdAt, oldest first (a Map iterates in insertion order). */
  private readonly handled: Map<string, number>;
  private forgottenUpTo: number;
  private readonly inbox: Map<string, Notification>;

  constructor(
    private readonly nvs: Nvs,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly capacity = 1000,
  ) {
    const handled = this.stored(HANDLED, (v): v is [string, number][] => Array.isArray(v) && v.every((x) => Array.isArray(x) && typeof x[0] === 'string' && typeof x[1] === 'number'));
    this.handled = new Map(handled ?? []);
    this.forgottenUpTo = this.stored(FORGOTTEN_UP_TO, (v): v is number => typeof v === 'number') ?? 0;
    const inbox = this.stored(INBOX, (v): v is Notification[] => Array.isArray(v) && v.every((n) => typeof n?.id === 'string')) ?? [];
    this.inbox = new Map(inbox.map((n) => [n.id, n]));
  }

  /** A stored value of the wrong shape (a hand edit, an old format) is dropped with a warning, not fatal. */
  private stored<T>(key: string, valid: (v: unknown) => v is T): T | undefined {
    const value = this.nvs.get<unknown>(key);
    if (value === undefined || valid(value)) return value as T | undefined;
    this.log.warn({ key }, `ignored NVS key "${key}": it does not hold what the firmware stores there`);
    return undefined;
  }

  /** Announced (or summarized) before: a repeat is acked duplicate. */
  isHandled(id: string): boolean {
    return this.handled.has(id);
  }

  /**
   * True when a notification is no newer than the payments dedupe has already forgotten: its id
   * may have been announced and evicted since, so it cannot be told apart from a replay.
   */
  isBeyondMemory(createdAt: number): boolean {
    return createdAt <= this.forgottenUpTo;
  }

  /** Accepted and waiting to be announced. */
  isPending(id: string): boolean {
    return this.inbox.has(id);
  }

  /** Notifications accepted before the last shutdown or crash and not yet announced. */
  pending(): Notification[] {
    return [...this.inbox.values()];
  }

  /** Puts a notification in the inbox; resolves once that is durable (then it may be PUBACKed). */
  accept(n: Notification): Promise<void> {
    this.inbox.set(n.id, n);
    return this.nvs.set({ [INBOX]: [...this.inbox.values()] }).catch((err: unknown) => {
      // Not stored, so not PUBACKed: the redelivery must find it new, not pending.
      this.inbox.delete(n.id);
      throw err;
    });
  }

  /**
   * Marks notifications announced or summarized: out of the inbox, into dedupe and the ledger,
   * and — in the same write — what is about to be played, for `inFlight` after a crash.
   */
  finish(done: Notification[], inFlight?: InFlight): Promise<void> {
    for (const n of done) {
      this.inbox.delete(n.id);
      this.handled.set(n.id, n.createdAt);
    }
    for (const [oldest, createdAt] of this.handled) {
      if (this.handled.size <= this.capacity) break;
      this.handled.delete(oldest);
      this.forgottenUpTo = Math.max(this.forgottenUpTo, createdAt);
    }
    const today = this.current();
    for (const n of done) {
      if (n.kind !== 'payment') continue;
      today.count += 1;
      today.totals[n.currency] = (today.totals[n.currency] ?? 0) + n.amount;
    }
    const last = done.length ? { [LAST]: done[done.length - 1] } : {};
    const writes = {
      [INBOX]: [...this.inbox.values()],
      [HANDLED]: [...this.handled],
      [FORGOTTEN_UP_TO]: this.forgottenUpTo,
      [TODAY]: today,
      [IN_FLIGHT]: inFlight ?? null,
    };
    return this.nvs.set({ ...writes, ...last });
  }

  /** The announcement that was being let out when the device last stopped, if any. */
  inFlight(): InFlight | null {
    return this.stored(IN_FLIGHT, (v): v is InFlight | null => v === null || (typeof v === 'object' && Array.isArray((v as InFlight).ids))) ?? null;
  }

  /** That announcement is out: nothing to finish after a crash (unless a newer one is in flight). */
  settle(key: string): Promise<void> {
    return this.inFlight()?.key === key ? this.nvs.set({ [IN_FLIGHT]: null }) : Promise.resolve();
  }

  /**
   * Forgets notifications that could not be played, whether or not `finish` already booked
   * them: out of the inbox, out of dedupe, out of today's takings, so a retry plays and counts.
   */
  drop(ns: Notification[]): Promise<void> {
    const today = this.current();
    for (const n of ns) {
      this.inbox.delete(n.id);
      if (!this.handled.delete(n.id) || n.kind !== 'payment') continue;
      today.count = Math.max(0, today.count - 1);
      today.totals[n.currency] = Math.max(0, (today.totals[n.currency] ?? 0) - n.amount);
    }
    // Nothing of these is in flight any more: a reboot must not ack them as played.
    const flight = this.inFlight();
    const clearFlight = flight && ns.some((n) => flight.ids.includes(n.id)) ? { [IN_FLIGHT]: null } : {};
    return this.nvs.set({ [INBOX]: [...this.inbox.values()], [HANDLED]: [...this.handled], [TODAY]: today, ...clearFlight });
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

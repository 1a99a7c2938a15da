/**
 * Everything the device must remember about payments, in NVS, so a reboot (even `kill -9`)
 * neither repeats nor loses one:
 *   inbox      notifications accepted (PUBACK sent) but not yet announced or summarized;
 *   handled    the ids of the last 1,000 payments already dealt with (dedupe), and the age
 *              below which a payment is refused because its id may have been forgotten;
 *   owed acks  final acks (played, summarized) the broker has not confirmed: a crash must not
 *              lose them, or the broker sends the payment again, maybe after the device has
 *              forgotten its id, and it is refused as a possible replay instead of `played`;
 *   held       inbox notifications waiting for the clock to be set from the broker before
 *              their freshness is checked (a speaker that booted in 1970);
 *   ledger     the last payment (replay) and today's takings (summary).
 * A notification enters the inbox durably before its PUBACK goes back, and leaves it in the
 * same write that marks it handled, owes its ack and books it in the ledger. Each payment has
 * its own keys, so each of these writes is small (the NVS appends it to a journal).
 */
import type { Notification } from '../../src/protocol/index.ts';
import type { Total } from '../../src/speech/index.ts';
import type { Nvs } from '../drivers/nvs.ts';
import type { Clock } from '../board.ts';
import type { Logger } from '../../src/logger.ts';

/** One key per payment, so storing one costs a small NVS write, not a rewrite of the lot. */
const INBOX = 'payments.inbox.'; // + id → the Notification
/** + id → true: an inbox notification whose freshness the board clock could not judge yet (never synced). */
const HELD = 'payments.held.';
const HANDLED = 'payments.handled.'; // + id → [seq, createdAt]; seq orders eviction
const OWED = 'payments.ack.'; // + id → the final ack, until the broker has it
/** The newest createdAt among ids evicted from `handled`: anything as old could be a replay we no longer recognise. */
const FORGOTTEN_UP_TO = 'payments.forgottenUpTo';
const IN_FLIGHT = 'payments.inFlight';
const LAST = 'ledger.last';
const TODAY = 'ledger.today';
/** Firmware before the per-key layout kept the inbox and the handled ids as two arrays. */
const LEGACY_INBOX = 'payments.inbox';
const LEGACY_HANDLED = 'payments.handled';

/** A final ack the broker has not confirmed yet: sent again after a reboot. */
export interface OwedAck {
  status: 'played' | 'summarized';
  text: string;
}

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
  /** The notifications themselves, to announce again if the sound can no longer come out (absent in records of firmware before 0.1.1). */
  items?: Notification[];
}

export function localDate(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export class PaymentStore {
  /** id → createdAt, oldest first (a Map iterates in insertion order). */
  private readonly handled = new Map<string, number>();
  /** The seq given to the next handled id: its place in the eviction order across reboots. */
  private nextSeq = 0;
  private forgottenUpTo: number;
  private readonly inbox = new Map<string, Notification>();
  private readonly owed = new Map<string, OwedAck>();

  constructor(
    private readonly nvs: Nvs,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly log: Logger,
    private readonly capacity = 1000,
  ) {
    const handled: [string, number, number][] = [];
    for (const key of nvs.keys(HANDLED)) {
      const v = this.stored(
        key,
        (x): x is [number, number] => Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === 'number'),
      );
      if (v) handled.push([key.slice(HANDLED.length), v[0], v[1]]);
    }
    for (const [id, seq, createdAt] of handled.sort((a, b) => a[1] - b[1])) {
      this.handled.set(id, createdAt);
      this.nextSeq = seq + 1;
    }
    this.forgottenUpTo = this.stored(FORGOTTEN_UP_TO, (v): v is number => typeof v === 'number') ?? 0;
    for (const key of nvs.keys(INBOX)) {
      const n = this.stored(key, (v): v is Notification => typeof (v as Notification | null)?.id === 'string');
      if (n) this.inbox.set(n.id, n);
    }
    for (const key of nvs.keys(OWED)) {
      const ack = this.stored(
        key,
        (v): v is OwedAck =>
          typeof (v as OwedAck | null)?.status === 'string' && typeof (v as OwedAck).text === 'string',
      );
      if (ack) this.owed.set(key.slice(OWED.length), ack);
    }
    this.migrate();
  }

  /** A stored value of the wrong shape (a hand edit, an old format) is dropped with a warning, not fatal. */
  private stored<T>(key: string, valid: (v: unknown) => v is T): T | undefined {
    const value = this.nvs.get<unknown>(key);
    if (value === undefined || valid(value)) return value as T | undefined;
    this.log.warn({ key }, `ignored NVS key "${key}": it does not hold what the firmware stores there`);
    return undefined;
  }

  /**
   * Storage written by older firmware: the inbox and the handled ids as two arrays, and an
   * in-flight announcement whose ack was not yet owed. Rewritten into today's keys in one write.
   */
  private migrate(): void {
    const sets: Record<string, unknown> = {};
    const inbox = this.stored(
      LEGACY_INBOX,
      (v): v is Notification[] => Array.isArray(v) && v.every((n) => typeof n?.id === 'string'),
    );
    for (const n of inbox ?? []) {
      this.inbox.set(n.id, n);
      sets[INBOX + n.id] = n;
    }
    const handled = this.stored(
      LEGACY_HANDLED,
      (v): v is [string, number][] =>
        Array.isArray(v) && v.every((x) => Array.isArray(x) && typeof x[0] === 'string' && typeof x[1] === 'number'),
    );
    for (const [id, createdAt] of handled ?? []) {
      this.handled.set(id, createdAt);
      sets[HANDLED + id] = [this.nextSeq++, createdAt];
    }
    const flight = this.inFlight();
    for (const id of flight?.ids ?? []) {
      if (this.owed.has(id)) continue;
      this.owed.set(id, { status: flight!.status, text: flight!.text });
      sets[OWED + id] = this.owed.get(id);
    }
    const legacy = [LEGACY_INBOX, LEGACY_HANDLED].filter((k) => this.nvs.get(k) !== undefined);
    if (Object.keys(sets).length === 0 && legacy.length === 0) return;
    this.log.info(
      { inbox: inbox?.length ?? 0, handled: handled?.length ?? 0 },
      'moved payment memory written by older firmware to one key per payment',
    );
    // Not awaited: if it fails, the old keys are still there and the next boot tries again.
    this.write(sets, legacy).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'could not rewrite payment memory from older firmware'),
    );
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

  /** Final acks not yet confirmed by the broker, from before the last shutdown or crash. */
  owedAcks(): [string, OwedAck][] {
    return [...this.owed];
  }

  /** The final ack of a handled payment if the broker has not confirmed it yet. */
  owedAck(id: string): OwedAck | undefined {
    return this.owed.get(id);
  }

  /**
   * Puts a notification in the inbox; resolves once that is durable (then it may be PUBACKed).
   * `held`: also marked as waiting for the clock, in the same write, so after a crash it is still
   * checked for freshness before it is announced.
   */
  accept(n: Notification, opts: { held?: boolean } = {}): Promise<void> {
    this.inbox.set(n.id, n);
    const sets: Record<string, unknown> = { [INBOX + n.id]: n };
    if (opts.held) sets[HELD + n.id] = true;
    return this.nvs.set(sets).catch((err: unknown) => {
      // Not stored, so not PUBACKed: the redelivery must find it new, not pending.
      this.inbox.delete(n.id);
      void this.nvs.delete([INBOX + n.id, HELD + n.id]).catch(() => undefined);
      throw err;
    });
  }

  /** Whether an inbox notification is waiting for the clock (see accept). */
  isHeld(id: string): boolean {
    return this.inbox.has(id) && this.nvs.get(HELD + id) === true;
  }

  /** Its freshness has been judged with a set clock: no longer held. */
  release(id: string): Promise<void> {
    return this.nvs.delete([HELD + id]);
  }

  /**
   * Marks notifications announced or summarized, in one write: out of the inbox, into dedupe and
   * the ledger, their final ack owed until the broker confirms it, and what is about to be
   * played, for `inFlight` after a crash.
   */
  finish(done: Notification[], ack: OwedAck, inFlight?: InFlight): Promise<void> {
    const sets: Record<string, unknown> = {};
    const deletes: string[] = [];
    for (const n of done) {
      this.inbox.delete(n.id);
      deletes.push(INBOX + n.id, HELD + n.id);
      this.handled.delete(n.id); // a retry after a failed play goes to the back of the line
      this.handled.set(n.id, n.createdAt);
      sets[HANDLED + n.id] = [this.nextSeq++, n.createdAt];
      this.owed.set(n.id, ack);
      sets[OWED + n.id] = ack;
    }
    // Acks the broker never confirms (a link that stays dark) must not grow NVS without end:
    // past as many as dedupe remembers, the oldest go; a retry of one is answered from dedupe.
    let unowed = 0;
    for (const id of this.owed.keys()) {
      if (this.owed.size <= this.capacity) break;
      this.owed.delete(id);
      deletes.push(OWED + id);
      unowed += 1;
    }
    if (unowed > 0) {
      this.log.warn(
        { dropped: unowed, kept: this.capacity },
        `dropped the ${unowed} oldest final acks the broker never confirmed: at most ${this.capacity} are kept`,
      );
    }
    for (const [oldest, createdAt] of this.handled) {
      if (this.handled.size <= this.capacity) break;
      this.handled.delete(oldest);
      deletes.push(HANDLED + oldest);
      this.forgottenUpTo = Math.max(this.forgottenUpTo, createdAt);
    }
    const today = this.current();
    for (const n of done) {
      if (n.kind !== 'payment') continue;
      today.count += 1;
      today.totals[n.currency] = (today.totals[n.currency] ?? 0) + n.amount;
    }
    if (done.length) sets[LAST] = done[done.length - 1];
    Object.assign(sets, { [FORGOTTEN_UP_TO]: this.forgottenUpTo, [TODAY]: today, [IN_FLIGHT]: inFlight ?? null });
    return this.write(sets, deletes);
  }

  /** The broker has the final ack for `id`: nothing to send again after a reboot. */
  ackDelivered(id: string): Promise<void> {
    if (!this.owed.delete(id)) return Promise.resolve();
    return this.nvs.delete([OWED + id]);
  }

  /** The announcement that was being let out when the device last stopped, if any. */
  inFlight(): InFlight | null {
    return (
      this.stored(
        IN_FLIGHT,
        (v): v is InFlight | null => v === null || (typeof v === 'object' && Array.isArray((v as InFlight).ids)),
      ) ?? null
    );
  }

  /** That announcement is out: nothing to finish after a crash (unless a newer one is in flight). */
  settle(key: string): Promise<void> {
    return this.inFlight()?.key === key ? this.nvs.set({ [IN_FLIGHT]: null }) : Promise.resolve();
  }

  /**
   * Forgets notifications that could not be played, whether or not `finish` already booked
   * them: out of the inbox, out of dedupe, out of today's takings, no ack owed, so a retry
   * plays and counts.
   */
  drop(ns: Notification[]): Promise<void> {
    const today = this.current();
    const deletes: string[] = [];
    for (const n of ns) {
      this.inbox.delete(n.id);
      this.owed.delete(n.id);
      deletes.push(INBOX + n.id, OWED + n.id, HANDLED + n.id, HELD + n.id);
      if (!this.handled.delete(n.id) || n.kind !== 'payment') continue;
      today.count = Math.max(0, today.count - 1);
      today.totals[n.currency] = Math.max(0, (today.totals[n.currency] ?? 0) - n.amount);
    }
    // Nothing of these is in flight any more: a reboot must not ack them as played.
    const flight = this.inFlight();
    const clearFlight = flight && ns.some((n) => flight.ids.includes(n.id)) ? { [IN_FLIGHT]: null } : {};
    return this.write({ [TODAY]: today, ...clearFlight }, deletes);
  }

  /**
   * Undoes `finish` for an announcement that never came out (a crash, and the board could not
   * finish it): back into the inbox, out of dedupe and today's takings, no ack owed, nothing in
   * flight. The next `pending()` announces them again.
   */
  reopen(ns: Notification[]): Promise<void> {
    const today = this.current();
    const sets: Record<string, unknown> = {};
    const deletes: string[] = [];
    for (const n of ns) {
      this.inbox.set(n.id, n);
      sets[INBOX + n.id] = n;
      this.owed.delete(n.id);
      deletes.push(OWED + n.id, HANDLED + n.id);
      if (!this.handled.delete(n.id) || n.kind !== 'payment') continue;
      today.count = Math.max(0, today.count - 1);
      today.totals[n.currency] = Math.max(0, (today.totals[n.currency] ?? 0) - n.amount);
    }
    return this.write({ ...sets, [TODAY]: today, [IN_FLIGHT]: null }, deletes);
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
    return stored && stored.date === date
      ? { ...stored, totals: { ...stored.totals } }
      : { date, count: 0, totals: {} };
  }

  /** Sets and deletes staged in one turn land in one atomic NVS write. */
  private write(sets: Record<string, unknown>, deletes: string[]): Promise<void> {
    const deleted = deletes.length ? this.nvs.delete(deletes) : Promise.resolve();
    return Promise.all([deleted, this.nvs.set(sets)]).then(() => undefined);
  }
}

/**
 * The durable outbox: a payment is written to SQLite (fsynced) before the backend hears 201,
 * and stays pending — re-published with backoff — until the device's final ack or its
 * time-to-live. Everything survives `kill -9`: the dispatcher just picks up where the table
 * says it was.
 *
 * Writes from the HTTP API and from acks are group-committed (group-commit.ts); the
 * dispatcher's claim of due payments is its own immediate transaction, so two broker
 * processes sharing one database never publish the same attempt twice.
 *
 * This file is the Outbox class; its SQL is statements.ts, its public shapes (re-exported here)
 * are outbox-types.ts.
 */
import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import { makeNotification, type Ack } from '../../src/protocol/index.ts';
import { ensureBrokerDir, registryFile } from '../data-dir.ts';
import { openWalDatabase } from '../database.ts';
import { newPaymentId } from '../../src/protocol/payment-ids.ts';
import { GroupCommit } from './group-commit.ts';
import { migrateOutbox, OUTBOX_SCHEMA } from './schema.ts';
import { retryDelay } from './retry.ts';
import { prepareStatements, type OutboxStatements } from './statements.ts';
import {
  IdempotencyConflictError,
  type Accepted,
  type OutboxOptions,
  type Payment,
  type PaymentRequest,
  type Publication,
  type SendDecision,
} from './outbox-types.ts';
import {
  zeroCounts,
  type PaymentEvent,
  type PaymentEventKind,
  type PaymentStatus,
  type StatusCounts,
} from './status.ts';

export {
  IdempotencyConflictError,
  type Accepted,
  type OutboxOptions,
  type Payment,
  type PaymentRequest,
  type Publication,
  type SendDecision,
} from './outbox-types.ts';

const SAME_REQUEST_FIELDS = ['device', 'amount', 'currency', 'channel', 'kind'] as const;

export class Outbox {
  private readonly commits: GroupCommit;
  private readonly events = new EventEmitter().setMaxListeners(0);
  /** watchAll's listeners: told of every committed change, after the per-id watchers. */
  private readonly everyChange = new Set<(p: Payment) => void>();
  private readonly changed = new Set<string>();
  /** Keys accepted in the batch not yet committed: a same-turn retry must find them. */
  private readonly uncommittedKeys = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly stmt: OutboxStatements;

  /** Called with each new payment's first publication once it is committed. */
  onAccepted: (p: Publication) => void = () => {};
  /** Failed background writes (acks, deliveries) are reported here. */
  onError: (err: Error) => void = () => {};

  private constructor(
    private readonly db: Database.Database,
    private readonly opts: OutboxOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.commits = new GroupCommit(db, () => this.announceChanges());
    this.commits.onError = (err) => this.onError(err);
    this.stmt = prepareStatements(db);
  }

  /** Opens (and creates) the outbox tables in DATA_DIR's broker database. */
  static open(dataDir: string, opts: OutboxOptions): Outbox {
    ensureBrokerDir(dataDir);
    const file = registryFile(dataDir);
    let db: Database.Database | undefined;
    try {
      // An accepted payment must survive a power cut: every commit is fsynced (group commit pays for it).
      db = openWalDatabase(file, { synchronous: 'FULL', busyTimeoutMs: 2000, schema: OUTBOX_SCHEMA });
      migrateOutbox(db);
    } catch (err) {
      db?.close();
      throw new Error(`cannot open the payment outbox in ${file}: ${(err as Error).message}`, { cause: err });
    }
    return new Outbox(db, opts);
  }

  /**
   * Stores a payment and resolves once it is on disk. A known idempotency key with the same
   * request returns the existing payment; with a different one, IdempotencyConflictError.
   */
  async accept(req: PaymentRequest): Promise<Accepted> {
    const key = req.idempotencyKey ?? null;
    if (key !== null) {
      const earlier = await this.findByKey(key);
      if (earlier) return { payment: this.checkSameRequest(key, earlier, req), created: false };
    }
    const now = this.now();
    const id = newPaymentId(now);
    const notification = JSON.stringify(
      this.opts.sign(
        makeNotification({
          id,
          device: req.device,
          amount: req.amount,
          currency: req.currency,
          channel: req.channel,
          kind: req.kind,
          createdAt: now,
        }),
      ),
    );
    const nextAttemptAt = now + retryDelay(this.opts.retry, 1, this.random);
    const row = {
      id,
      device: req.device,
      amount: req.amount,
      currency: req.currency,
      channel: req.channel,
      kind: req.kind,
      idempotencyKey: key,
      notification,
      createdAt: now,
      expiresAt: now + this.opts.ttlMs,
      nextAttemptAt,
    };
    const committed = this.commits.write(() => {
      this.stmt.insert.run(row);
      this.addEvent(id, now, 'accepted', 'queued', null);
    });
    if (key !== null) this.uncommittedKeys.set(key, committed);
    try {
      await committed;
    } catch (err) {
      // Another broker process sharing this database took the key first: answer with its payment.
      const taken =
        key !== null && (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE'
          ? this.stmt.byKey.get(key)
          : undefined;
      if (taken) return { payment: this.checkSameRequest(key!, taken, req), created: false };
      throw err;
    } finally {
      if (key !== null) this.uncommittedKeys.delete(key);
    }
    this.onAccepted({ id, device: req.device, payload: notification, attempt: 1 });
    return { payment: this.find(id)!, created: true };
  }

  find(id: string): Payment | null {
    return this.stmt.get.get(id) ?? null;
  }

  history(id: string): PaymentEvent[] {
    return this.stmt.history.all(id).map(({ detail, ...e }) => (detail === null ? e : { ...e, detail }));
  }

  /**
   * The newest `limit` payments, newest first, optionally only one device's. "Newest" is the
   * order the outbox stored them in (rowid): that is creation order, and reading it needs no
   * index beyond the table's own, however many payments the database holds.
   */
  recent(limit: number, device?: string): Payment[] {
    return device === undefined ? this.stmt.recent.all(limit) : this.stmt.recentOf.all(device, limit);
  }

  /** deviceSummary for every device that has payments, in one pass over the table. */
  allDeviceSummaries(): Map<string, { counts: StatusCounts; lastPaymentAt: number | null }> {
    const all = new Map<string, { counts: StatusCounts; lastPaymentAt: number | null }>();
    for (const { device, status, n, at } of this.stmt.allCounts.all()) {
      let entry = all.get(device);
      if (!entry) all.set(device, (entry = { counts: zeroCounts(), lastPaymentAt: null }));
      entry.counts[status] = n;
      entry.lastPaymentAt = Math.max(entry.lastPaymentAt ?? at, at);
    }
    return all;
  }

  /** Per-status counts of a device's payments, and when its last one was created. */
  deviceSummary(device: string): { counts: StatusCounts; lastPaymentAt: number | null } {
    const counts = zeroCounts();
    for (const { status, n } of this.stmt.counts.all(device)) counts[status] = n;
    return { counts, lastPaymentAt: this.stmt.lastPayment.get(device)?.at ?? null };
  }

  /**
   * The device PUBACKed: it has the payment in its NVS and will announce it, even after a
   * reboot. Its queue may be long, so the next copy (against a lost final ack) waits the
   * longest backoff step: re-sending delivered payments at the short steps only loads a
   * device that is behind.
   *
   * `attempt` is the copy the PUBACK acknowledges, if the dispatcher knows it: a PUBACK counts
   * only for the latest copy, and only while the device has not answered it (statements.ts).
   */
  recordDelivered(device: string, id: string, attempt?: number): void {
    this.commits.enqueue(() => {
      const now = this.now();
      const change = { now, later: now + this.opts.retry.maxMs, id, device, attempt: attempt ?? null };
      if (this.stmt.delivered.run(change).changes > 0) this.addEvent(id, now, 'delivered', 'delivered', null);
    });
  }

  /** The device's final word. An `audio-failed` rejection is not final: the speaker may play a retry. */
  recordAck(device: string, ack: Ack): void {
    if (ack.id !== null) this.commits.enqueue(() => this.applyAck(device, ack));
  }

  /**
   * recordAck, resolving once the change is committed and fsynced (rejecting if it failed): the
   * broker PUBACKs a device's ack only then (broker/ack-intake.ts).
   */
  commitAck(device: string, ack: Ack): Promise<void> {
    if (ack.id === null) return Promise.resolve();
    if (!this.db.open) return Promise.reject(new Error('the payment outbox is closed'));
    return this.commits.write(() => this.applyAck(device, ack));
  }

  private applyAck(device: string, ack: Ack): void {
    const id = ack.id!;
    const now = this.now();
    if (ack.status === 'rejected' && ack.reason === 'audio-failed') {
      const payment = this.stmt.get.get(id);
      const next = now + retryDelay(this.opts.retry, payment?.attempts ?? 1, this.random);
      const detail = `device could not play it (${ack.detail ?? 'audio failed'}); retrying`;
      if (this.stmt.retryLater.run({ detail, now, next, id, device }).changes > 0)
        this.addEvent(id, now, 'retrying', 'queued', detail);
      return;
    }
    const before = this.stmt.get.get(id)?.status;
    const fields = {
      status: ack.status,
      text: ack.text ?? null,
      reason: ack.reason ?? null,
      detail: ack.detail ?? null,
      now,
      id,
      device,
    };
    if (this.stmt.final.run(fields).changes === 0) return;
    const detail =
      before === 'expired' || before === 'duplicate' ? `late ack after ${before}: ${ack.status}` : (ack.detail ?? null);
    this.addEvent(id, now, 'acked', ack.status, detail);
  }

  /** A device (re)subscribed: what it has not got yet is worth sending now rather than at the next backoff. */
  makeDueNow(device: string): void {
    this.commits.enqueue(() => {
      this.stmt.dueNow.run({ now: this.now(), device });
    });
  }

  /**
   * Expires what outlived its time-to-live, then claims up to `limit` due payments for
   * publishing, pushing each one's next attempt out by the backoff.
   */
  readonly tick = (
    limit: number,
    decide: (id: string, device: string, attempt: number) => SendDecision = () => 'send',
    skipDevices: readonly string[] = [],
  ): { due: Publication[]; expired: string[] } => {
    const work = this.db
      .transaction(() => {
        const now = this.now();
        const expired = this.stmt.expire.all({ now }).map((r) => r.id);
        for (const id of expired) this.addEvent(id, now, 'expired', 'expired', null);
        const due: Publication[] = [];
        for (const r of this.stmt.due.all({ now, limit, skip: JSON.stringify(skipDevices) })) {
          const decision = decide(r.id, r.device, r.attempts + 1);
          // Waiting its turn behind the device's earlier payments: stays due, in order, untouched.
          if (decision === 'hold') continue;
          // Not sendable for a while: the same attempt, one step later (a copy is still out), or the longest step (the device is away).
          const attempt = decision === 'send' ? r.attempts + 1 : r.attempts;
          const wait = decision === 'away' ? this.opts.retry.maxMs : retryDelay(this.opts.retry, attempt, this.random);
          this.stmt.claim.run(attempt, now + wait, now, r.id);
          if (decision !== 'send') continue;
          this.addEvent(r.id, now, 'republished', r.status, `attempt ${attempt}`);
          due.push({ id: r.id, device: r.device, payload: r.notification, attempt });
        }
        return { due, expired };
      })
      .immediate();
    this.announceChanges();
    return work;
  };

  /** Calls `listener` after each committed change to payment `id`; returns the unsubscribe. */
  watch(id: string, listener: (p: Payment) => void): () => void {
    this.events.on(id, listener);
    return () => this.events.off(id, listener);
  }

  /**
   * Calls `listener` after each committed change to any payment (the API's event stream);
   * returns the unsubscribe. Fed from the same place as `watch`: after the group commit, or
   * after the dispatcher's own transaction, so a listener never sees an uncommitted change.
   */
  watchAll(listener: (p: Payment) => void): () => void {
    this.everyChange.add(listener);
    return () => this.everyChange.delete(listener);
  }

  /** Commits what is queued, then closes the database. */
  close(): void {
    if (!this.db.open) return;
    this.commits.flush();
    this.db.close();
  }

  private addEvent(
    id: string,
    at: number,
    event: PaymentEventKind,
    status: PaymentStatus,
    detail: string | null,
  ): void {
    this.stmt.event.run(id, at, event, status, detail);
    this.changed.add(id);
  }

  private announceChanges(): void {
    const ids = [...this.changed];
    this.changed.clear();
    for (const id of ids) {
      // Read the row only if someone listens: with no watcher this costs nothing per change.
      if (this.events.listenerCount(id) === 0 && this.everyChange.size === 0) continue;
      const p = this.find(id);
      if (!p) continue;
      this.events.emit(id, p);
      for (const listener of this.everyChange) {
        try {
          listener(p);
        } catch (err) {
          // One broken subscriber must not keep the others (or the committer) from hearing.
          this.onError(err as Error);
        }
      }
    }
  }

  private async findByKey(key: string): Promise<Payment | null> {
    const uncommitted = this.uncommittedKeys.get(key);
    if (!uncommitted) return this.stmt.byKey.get(key) ?? null;
    await uncommitted.catch(() => {});
    return this.stmt.byKey.get(key) ?? null;
  }

  private checkSameRequest(key: string, earlier: Payment, req: PaymentRequest): Payment {
    const differs = SAME_REQUEST_FIELDS.filter((f) => earlier[f] !== req[f]);
    if (differs.length > 0) throw new IdempotencyConflictError(key, earlier, differs);
    return earlier;
  }
}

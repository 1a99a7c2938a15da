/**
 * The SQL the outbox runs, prepared once per database: inserting a payment and its history, the
 * dispatcher's due query and claim, acks, expiry and the per-device counts. Split out of
 * outbox.ts so the Outbox class there reads as what it does with them; the tables are schema.ts.
 */
import type Database from 'better-sqlite3';
import { PAYMENT_COLUMNS, type PaymentRow } from './schema.ts';
import type { PaymentEventKind, PaymentStatus } from './status.ts';

const PENDING = `status IN ('queued', 'delivered')`;

export function prepareStatements(db: Database.Database) {
  return {
    insert:
      db.prepare(`INSERT INTO payments (id, device, amount, currency, channel, kind, idempotency_key, notification, status,
      attempts, created_at, updated_at, expires_at, next_attempt_at) VALUES
      (@id, @device, @amount, @currency, @channel, @kind, @idempotencyKey, @notification, 'queued', 1, @createdAt, @createdAt, @expiresAt, @nextAttemptAt)`),
    event: db.prepare<[string, number, PaymentEventKind, PaymentStatus, string | null]>(
      'INSERT INTO payment_events (payment_id, at, event, status, detail) VALUES (?, ?, ?, ?, ?)',
    ),
    get: db.prepare<[string], PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = ?`),
    byKey: db.prepare<[string], PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE idempotency_key = ?`),
    history: db.prepare<
      [string],
      { at: number; event: PaymentEventKind; status: PaymentStatus; detail: string | null }
    >('SELECT at, event, status, detail FROM payment_events WHERE payment_id = ? ORDER BY seq'),
    // A PUBACK counts only for the copy it acknowledges (@attempt; NULL when the dispatcher no
    // longer knows, taken as the latest): not for an older copy once a newer one is out (that
    // one's PUBACK will say it), and not for a copy the device has already answered with an
    // audio-failed ack. A speaker PUBACKs before it plays, so such a PUBACK was sent before
    // that ack and only reached the outbox after it: it must not undo the retry.
    delivered: db.prepare<[{ now: number; later: number; id: string; device: string; attempt: number | null }]>(
      `UPDATE payments SET status = 'delivered', delivered_at = @now, updated_at = @now, next_attempt_at = max(next_attempt_at, @later)
       WHERE id = @id AND device = @device AND status = 'queued'
         AND attempts = coalesce(@attempt, attempts) AND attempts > coalesce(answered_attempt, 0)`,
    ),
    final: db.prepare<
      [
        {
          status: PaymentStatus;
          text: string | null;
          reason: string | null;
          detail: string | null;
          now: number;
          id: string;
          device: string;
        },
      ]
    >(
      `UPDATE payments SET status = @status, text = @text, reason = @reason, detail = @detail, finished_at = @now, updated_at = @now,
         next_attempt_at = NULL
       WHERE id = @id AND device = @device AND (${PENDING} OR status = 'expired' OR (status = 'duplicate' AND @status IN ('played', 'summarized')))`,
    ),
    // The ack does not say which copy it answers: the latest one out is taken. Should it have
    // answered an earlier copy, the latest copy's PUBACK is ignored and the payment is simply
    // re-sent at the short step: more copies, never a lost payment.
    retryLater: db.prepare<[{ detail: string; now: number; next: number; id: string; device: string }]>(
      `UPDATE payments SET status = 'queued', detail = @detail, updated_at = @now, next_attempt_at = @next, answered_attempt = attempts
       WHERE id = @id AND device = @device AND ${PENDING}`,
    ),
    dueNow: db.prepare<[{ now: number; device: string }]>(
      `UPDATE payments SET next_attempt_at = @now WHERE device = @device AND status = 'queued' AND next_attempt_at > @now`,
    ),
    // The longest-due first; then, within what is taken, oldest payment first (each device hears its payments in order).
    due: db.prepare<
      [{ now: number; limit: number; skip: string }],
      { id: string; device: string; notification: string; attempts: number; status: PaymentStatus }
    >(
      `SELECT * FROM (
         SELECT id, device, notification, attempts, status, created_at, rowid AS seq FROM payments
         WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= @now AND expires_at > @now
           AND device NOT IN (SELECT value FROM json_each(@skip))
         ORDER BY next_attempt_at LIMIT @limit
       ) ORDER BY created_at, seq`,
    ),
    claim: db.prepare<[number, number, number, string]>(
      'UPDATE payments SET attempts = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?',
    ),
    expire: db.prepare<[{ now: number }], { id: string }>(
      `UPDATE payments SET status = 'expired', finished_at = @now, updated_at = @now, next_attempt_at = NULL
       WHERE next_attempt_at IS NOT NULL AND expires_at <= @now RETURNING id`,
    ),
    counts: db.prepare<[string], { status: PaymentStatus; n: number }>(
      'SELECT status, count(*) AS n FROM payments WHERE device = ? GROUP BY status',
    ),
    // rowid order is insertion order: newest first without scanning or sorting the table.
    recent: db.prepare<[number], PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments ORDER BY rowid DESC LIMIT ?`),
    recentOf: db.prepare<[string, number], PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE device = ? ORDER BY rowid DESC LIMIT ?`,
    ),
    allCounts: db.prepare<[], { device: string; status: PaymentStatus; n: number; at: number }>(
      'SELECT device, status, count(*) AS n, max(created_at) AS at FROM payments GROUP BY device, status',
    ),
    lastPayment: db.prepare<[string], { at: number | null }>(
      'SELECT max(created_at) AS at FROM payments WHERE device = ?',
    ),
  };
}

export type OutboxStatements = ReturnType<typeof prepareStatements>;

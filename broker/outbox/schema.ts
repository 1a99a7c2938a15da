/**
 * The outbox's tables, in the broker's SQLite database (beside the device registry). One row
 * per accepted payment, holding the exact signed notification it publishes on every attempt,
 * and an append-only history of what moved it.
 */
import type Database from 'better-sqlite3';
import type { PaymentView } from '../../src/api/types.ts';

export const OUTBOX_SCHEMA = `
  CREATE TABLE IF NOT EXISTS payments (
    id               TEXT PRIMARY KEY,
    device           TEXT NOT NULL,
    amount           INTEGER NOT NULL CHECK (amount > 0),
    currency         TEXT NOT NULL,
    channel          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    idempotency_key  TEXT UNIQUE,
    notification     TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    delivered_at     INTEGER,
    finished_at      INTEGER,
    text             TEXT,
    reason           TEXT,
    detail           TEXT,
    -- The attempt (copy) the device's last audio-failed ack answered: a PUBACK of that copy or
    -- an earlier one, processed after the ack, is old news (statements.ts, delivered).
    answered_attempt INTEGER
  );
  -- Only pending payments have a next attempt: the dispatcher's scan reads just those.
  CREATE INDEX IF NOT EXISTS payments_due ON payments (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS payments_by_device ON payments (device, status);
  CREATE TABLE IF NOT EXISTS payment_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    event       TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT
  );
  CREATE INDEX IF NOT EXISTS payment_events_by_payment ON payment_events (payment_id, seq);
`;

/**
 * Brings a payments table made by an older broker up to OUTBOX_SCHEMA (run after it, on every
 * open). SQLite has no ADD COLUMN IF NOT EXISTS, so the table is asked what it has; inside an
 * immediate transaction, so two processes opening one old file at once do not both add it.
 * The added columns are nullable: an older broker sharing the file simply never writes them.
 */
export function migrateOutbox(db: Database.Database): void {
  db.transaction(() => {
    const columns = new Set((db.pragma('table_info(payments)') as { name: string }[]).map((c) => c.name));
    if (!columns.has('answered_attempt')) db.exec('ALTER TABLE payments ADD COLUMN answered_attempt INTEGER');
  }).immediate();
}

/**
 * A payments row with its columns renamed to camelCase by PAYMENT_COLUMNS: what the API shows
 * (src/api/types.ts), with NULLs where the API leaves fields out, plus the retry schedule.
 */
export interface PaymentRow extends Omit<PaymentView, 'text' | 'reason' | 'detail'> {
  nextAttemptAt: number | null;
  text: string | null;
  reason: string | null;
  detail: string | null;
}

export const PAYMENT_COLUMNS = `id, device, amount, currency, channel, kind, idempotency_key AS idempotencyKey, status,
  attempts, created_at AS createdAt, updated_at AS updatedAt, expires_at AS expiresAt, next_attempt_at AS nextAttemptAt,
  delivered_at AS deliveredAt, finished_at AS finishedAt, text, reason, detail`;

/**
 * The outbox's public shapes: what the HTTP API hands it, what it answers, what the dispatcher
 * gets to publish, and its options. Split out of outbox.ts, which holds the Outbox class and
 * re-exports these, so callers keep importing them from there.
 */
import type { Channel, Kind, Notification } from '../../src/protocol/index.ts';
import type { PaymentRow } from './schema.ts';
import type { RetryPolicy } from './retry.ts';

export interface PaymentRequest {
  device: string;
  /** Integer minor units, already validated against the currency. */
  amount: number;
  currency: string;
  channel: Channel;
  kind: Kind;
  idempotencyKey?: string | null;
}

export type Payment = PaymentRow;

export interface Accepted {
  payment: Payment;
  /** False when an earlier request with the same idempotency key already made it. */
  created: boolean;
}

/**
 * What the dispatcher can do with a due payment now: send it, keep it due for the next look,
 * push it a step later, or (its device is away) push it the longest step.
 */
export type SendDecision = 'send' | 'hold' | 'later' | 'away';

/** One copy of a payment's notification for the dispatcher to publish. */
export interface Publication {
  id: string;
  device: string;
  payload: string;
  attempt: number;
}

export class IdempotencyConflictError extends Error {
  constructor(
    readonly key: string,
    readonly existing: Payment,
    readonly fields: string[],
  ) {
    super(
      `idempotency key ${JSON.stringify(key)} was already used for payment ${existing.id} with a different ${fields.join(', ')}: ` +
        `use a new key for a new payment, or resend exactly the same request to get the existing one`,
    );
    this.name = 'IdempotencyConflictError';
  }
}

export interface OutboxOptions {
  /** Signs each notification once, when the payment is accepted (see src/protocol/signing.ts). */
  sign: (n: Notification) => Notification;
  /** How long the outbox keeps retrying before it gives up with `expired`. */
  ttlMs: number;
  retry: RetryPolicy;
  now?: () => number;
  random?: () => number;
}

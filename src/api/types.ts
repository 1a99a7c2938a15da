/**
 * The notification API's wire format (docs/API.md), defined once: the broker's HTTP server
 * (broker/http) answers with these shapes and the client (tools/api/client.ts) reads them.
 */
import type { Channel, Kind } from '../protocol/index.ts';

/** The life of a payment: see broker/outbox/status.ts for the transitions. */
export const PAYMENT_STATUSES = [
  'queued',
  'delivered',
  'played',
  'duplicate',
  'summarized',
  'rejected',
  'expired',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** No more retries: the device had its final word, or the time-to-live ran out. */
export const FINAL_STATUSES: ReadonlySet<PaymentStatus> = new Set([
  'played',
  'duplicate',
  'summarized',
  'rejected',
  'expired',
]);

/** The body of POST /v1/payments. */
export interface NewPayment {
  device: string;
  /** Integer minor units of `currency`. */
  amount: number;
  currency: string;
  channel: Channel;
  kind?: Kind;
  idempotencyKey?: string;
}

/** A payment as GET /v1/payments/:id shows it. */
export interface PaymentView {
  id: string;
  device: string;
  amount: number;
  currency: string;
  channel: Channel;
  kind: Kind;
  idempotencyKey: string | null;
  status: PaymentStatus;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  deliveredAt: number | null;
  finishedAt: number | null;
  text?: string;
  reason?: string;
  detail?: string;
}

export interface PaymentHistoryEntry {
  at: number;
  event: string;
  status: PaymentStatus;
  detail?: string;
}

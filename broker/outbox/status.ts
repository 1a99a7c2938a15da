/**
 * The life of a payment in the outbox, from the backend's 201 to the device's final word:
 *
 *   queued ──PUBACK──▶ delivered ──ack──▶ played | duplicate | summarized | rejected
 *      └──────────────── ack ────────────▲
 *   queued | delivered ──time-to-live passes──▶ expired
 *
 * `delivered` means the device stored it durably (it PUBACKs only after its NVS write), so it
 * will be announced even if the device reboots. A final status ends the retries; only a late
 * ack may still say what the device actually did: `expired` becomes any ack's status, and
 * `duplicate` ("I had it already") becomes the `played` or `summarized` it stood for.
 */
import { PAYMENT_STATUSES, type PaymentStatus } from '../../src/api/types.ts';

export { PAYMENT_STATUSES, type PaymentStatus };

/** Still being (re)published. */
export const PENDING_STATUSES = ['queued', 'delivered'] as const satisfies readonly PaymentStatus[];
export type PendingStatus = (typeof PENDING_STATUSES)[number];

export function isFinal(status: PaymentStatus): boolean {
  return status !== 'queued' && status !== 'delivered';
}

/** What moved a payment: its history is a list of these. */
export type PaymentEventKind = 'accepted' | 'republished' | 'delivered' | 'acked' | 'retrying' | 'expired';

export interface PaymentEvent {
  at: number;
  event: PaymentEventKind;
  /** The status after the event. */
  status: PaymentStatus;
  detail?: string;
}

export type StatusCounts = Record<PaymentStatus, number>;

export function zeroCounts(): StatusCounts {
  return Object.fromEntries(PAYMENT_STATUSES.map((s) => [s, 0])) as StatusCounts;
}

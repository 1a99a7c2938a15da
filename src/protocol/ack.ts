/**
 * Acks, protocol v1: the device's answer to each notification, on its ack topic.
 * Every notification gets exactly one ack with a final status.
 */
import { PROTOCOL_VERSION } from './topics.ts';
import type { RejectionReason } from './notification.ts';
import { describeValue } from './notification.ts';
import { decodeUtf8 } from './bytes.ts';

export const ACK_STATUSES = ['played', 'duplicate', 'rejected', 'summarized'] as const;
export type AckStatus = (typeof ACK_STATUSES)[number];

export interface Ack {
  v: typeof PROTOCOL_VERSION;
  /** The payment id, or null when the notification was too broken to carry one. */
  id: string | null;
  device: string;
  status: AckStatus;
  /** Present when status is `rejected`. */
  reason?: RejectionReason;
  detail?: string;
  /** The sentence the device spoke (played) or would have spoken (duplicate). */
  text?: string;
  /** When the device finished, Unix epoch milliseconds. */
  at: number;
}

export function encodeAck(ack: Ack): string {
  return JSON.stringify(ack);
}

/** Parses an ack from the wire; throws with a clear message when it is not one. */
export function parseAck(payload: Uint8Array | string): Ack {
  const text = decodeUtf8(payload);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`ack is not JSON: ${describeValue(text)}`);
  }
  const ack = raw as Partial<Ack> | null;
  if (
    !ack ||
    typeof ack !== 'object' ||
    ack.v !== PROTOCOL_VERSION ||
    !ACK_STATUSES.includes(ack.status as AckStatus)
  ) {
    throw new Error(`not a v${PROTOCOL_VERSION} ack: ${describeValue(raw)}`);
  }
  if (
    typeof ack.device !== 'string' ||
    typeof ack.at !== 'number' ||
    !(ack.id === null || typeof ack.id === 'string')
  ) {
    throw new Error(`ack is missing id, device or at: ${describeValue(raw)}`);
  }
  return ack as Ack;
}

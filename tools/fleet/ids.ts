/**
 * Names in a fleet run. Device ids are `PREFIX-00001`…; payment ids are `RUN-SEQ`, so a worker
 * can tell the coordinator which payment it heard as a number, and a payment left in a
 * persistent session by an earlier run (same device ids on an external broker) is recognised
 * as a stray instead of being counted.
 */
import { randomBytes } from 'node:crypto';

export function deviceId(prefix: string, index: number): string {
  return `${prefix}-${String(index + 1).padStart(5, '0')}`;
}

/** A short random tag for this run: 8 characters of [a-z0-9]. */
export function newRunId(): string {
  return `r${randomBytes(6).readUIntBE(0, 6).toString(36).padStart(7, '0').slice(0, 7)}`;
}

export function paymentId(runId: string, seq: number): string {
  return `${runId}-${seq}`;
}

/** The payment's sequence number in this run, or -1 for an id from another run (or not from a fleet). */
export function paymentSeq(runId: string, id: string): number {
  if (!id.startsWith(runId) || id.charCodeAt(runId.length) !== 45 /* - */) return -1;
  const seq = Number(id.slice(runId.length + 1));
  return Number.isSafeInteger(seq) && seq >= 0 ? seq : -1;
}

/**
 * Payment notifications, protocol v1: the one definition both the broker side and the device
 * firmware import. `parseNotification` turns untrusted bytes into a Notification or a
 * Rejection with a machine-readable reason and a sentence a person can act on.
 */
import { z } from 'zod';
import { CHANNELS, KINDS, type Channel, type Kind } from './channels.ts';
import { PROTOCOL_VERSION } from './topics.ts';
import { isKnownCurrency, maxMinorUnits, MAX_MAJOR_UNITS } from './money.ts';
import { decodeUtf8Strict, utf8Length } from './bytes.ts';

/** Real notifications are ~250 bytes; anything near this is an attack or a bug. */
export const MAX_NOTIFICATION_BYTES = 4096;

export const PAYMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export interface Notification {
  v: typeof PROTOCOL_VERSION;
  /** Unique payment id, chosen by the backend; the device dedupes on it. */
  id: string;
  /** The device this notification is addressed to. */
  device: string;
  /** Integer count of minor units (fen, paise, cents). */
  amount: number;
  /** ISO 4217 code. */
  currency: string;
  channel: Channel;
  kind: Kind;
  /** When the backend created the payment, Unix epoch milliseconds. */
  createdAt: number;
  /**
   * The backend's Ed25519 signature over the fields above (see signing.ts), base64url. Parsing
   * only checks its shape; whether it is genuine is `verifyNotification`'s job, because only
   * the caller knows which public key to trust.
   */
  sig?: string;
}

/** 64 signature bytes as unpadded base64url: 86 characters. The last one carries only 2 bits
 * (of 4), so it must be one of A, Q, g, w: one signature has exactly one spelling. */
export const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{85}[AQgw]$/;

export const REJECTION_REASONS = [
  'payload-too-large',
  'malformed-json',
  'not-an-object',
  'unsupported-version',
  'missing-field',
  'invalid-id',
  'wrong-device',
  'invalid-amount',
  'amount-out-of-range',
  'unknown-currency',
  'unknown-channel',
  'unknown-kind',
  'invalid-timestamp',
  /** `sig` is missing, malformed, or not the backend's signature over these fields. */
  'bad-signature',
  /** `createdAt` is older than the acceptance window (a replay or a very late delivery). */
  'expired',
  /** `createdAt` is further ahead of the device's clock than the allowed skew. */
  'from-the-future',
  /** Valid, but the speaker's audio output failed; the backend may retry. */
  'audio-failed',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface Rejection {
  reason: RejectionReason;
  /** What was wrong, with which value, and what to do. */
  detail: string;
  /** The payment id when it could be read, so the backend can match the ack. */
  id: string | null;
}

export type ParseResult = { ok: true; notification: Notification } | { ok: false; rejection: Rejection };

const shape = z.object({
  id: z.string().regex(PAYMENT_ID_PATTERN),
  device: z.string(),
  amount: z.number().int().positive(),
  currency: z.string().refine(isKnownCurrency),
  channel: z.enum(CHANNELS),
  kind: z.enum(KINDS),
  createdAt: z.number().int().positive().max(8.64e15),
});
type Field = keyof z.infer<typeof shape>;

/** Checked in this order, so the first problem reported is the most basic one. */
const FIELDS: Field[] = ['id', 'device', 'amount', 'currency', 'channel', 'kind', 'createdAt'];

const FIELD_RULES: Record<Field, { reason: RejectionReason; expected: string }> = {
  id: { reason: 'invalid-id', expected: 'a string of 1-64 letters, digits, ".", "_", ":" or "-"' },
  device: { reason: 'wrong-device', expected: 'the target device id as a string' },
  amount: { reason: 'invalid-amount', expected: 'a positive integer of minor units (12345 means 123.45 CNY)' },
  currency: { reason: 'unknown-currency', expected: 'an ISO 4217 code such as CNY, INR or USD' },
  channel: { reason: 'unknown-channel', expected: `one of ${CHANNELS.join(', ')}` },
  kind: { reason: 'unknown-kind', expected: `one of ${KINDS.join(', ')}` },
  createdAt: { reason: 'invalid-timestamp', expected: 'Unix epoch milliseconds as a positive integer' },
};

/** A short, printable rendering of an untrusted value for error messages. */
export function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function reject(reason: RejectionReason, detail: string, id: string | null = null): ParseResult {
  return { ok: false, rejection: { reason, detail, id } };
}

/** Parses a notification payload received on `expectedDevice`'s notify topic. */
export function parseNotification(payload: Uint8Array | string, expectedDevice: string): ParseResult {
  const size = typeof payload === 'string' ? utf8Length(payload) : payload.byteLength;
  if (size > MAX_NOTIFICATION_BYTES) {
    return reject(
      'payload-too-large',
      `payload is ${size} bytes; a notification may be at most ${MAX_NOTIFICATION_BYTES} bytes`,
    );
  }
  const text = typeof payload === 'string' ? payload : decodeUtf8(payload);
  if (text === null)
    return reject(
      'malformed-json',
      'payload is not valid JSON (it is not valid UTF-8): send one JSON object encoded as UTF-8',
    );
  if (text.startsWith('\uFEFF')) {
    return reject(
      'malformed-json',
      'payload is not valid JSON (it starts with a byte order mark, U+FEFF): send the JSON without a BOM',
    );
  }
  let raw: unknown;
  try {
    // V8's JSON.parse does not recurse, so even deeply nested input cannot overflow the stack.
    raw = JSON.parse(text);
  } catch (err) {
    return reject('malformed-json', `payload is not valid JSON (${(err as Error).message}): send one JSON object`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return reject('not-an-object', `payload is ${describeValue(raw)}, not a JSON object: send one notification object`);
  }
  const record = raw as Record<string, unknown>;
  const id = typeof record.id === 'string' && PAYMENT_ID_PATTERN.test(record.id) ? record.id : null;
  if (record.v !== PROTOCOL_VERSION) {
    return reject(
      'unsupported-version',
      `"v" is ${describeValue(record.v)}; this device speaks protocol v${PROTOCOL_VERSION}: send "v": 1`,
      id,
    );
  }
  const fieldProblem = checkFields(record, id);
  if (fieldProblem) return fieldProblem;
  const n = shape.parse(record);
  if (n.device !== expectedDevice) {
    return reject(
      'wrong-device',
      `notification is addressed to ${describeValue(n.device)} but this is ${expectedDevice}: publish on the addressed device's topic`,
      id,
    );
  }
  if (n.amount > maxMinorUnits(n.currency)) {
    return reject(
      'amount-out-of-range',
      `amount ${n.amount} is above the largest a speaker reads (${MAX_MAJOR_UNITS} ${n.currency} in minor units)`,
      id,
    );
  }
  // A null sig counts as absent, like null elsewhere; verifyNotification then says "no signature".
  const sig = Object.prototype.hasOwnProperty.call(record, 'sig') ? record.sig : undefined;
  if (sig === undefined || sig === null) return { ok: true, notification: { v: PROTOCOL_VERSION, ...n } };
  if (typeof sig !== 'string' || !SIGNATURE_PATTERN.test(sig)) {
    return reject(
      'bad-signature',
      `"sig" is ${describeValue(sig)}: it must be 86 base64url characters (a 64-byte Ed25519 signature); sign with the backend's key`,
      id,
    );
  }
  return { ok: true, notification: { v: PROTOCOL_VERSION, ...n, sig } };
}

/**
 * Strict: the protocol refuses a payload that is not UTF-8 (bytes.ts: decodeUtf8Strict).
 */
function decodeUtf8(bytes: Uint8Array): string | null {
  return decodeUtf8Strict(bytes);
}

function checkFields(record: Record<string, unknown>, id: string | null): ParseResult | null {
  for (const field of FIELDS) {
    const value = Object.prototype.hasOwnProperty.call(record, field) ? record[field] : undefined;
    if (value === undefined || value === null) {
      return reject('missing-field', `field "${field}" is missing: it must be ${FIELD_RULES[field].expected}`, id);
    }
    if (!shape.shape[field].safeParse(value).success) {
      const { reason, expected } = FIELD_RULES[field];
      return reject(reason, `"${field}" is ${describeValue(value)}: it must be ${expected}`, id);
    }
  }
  return null;
}

/** Builds a v1 notification; the caller supplies the id and clock. */
export function makeNotification(fields: Omit<Notification, 'v'>): Notification {
  return { v: PROTOCOL_VERSION, ...fields };
}

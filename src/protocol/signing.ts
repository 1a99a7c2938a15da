/**
 * Signed notifications, protocol v1: why a speaker can trust what it announces. The backend
 * signs every notification with its Ed25519 private key; a device verifies with the public key
 * it was provisioned with. Whoever can publish on the broker but lacks the private key cannot
 * make a speaker announce a payment (the "fake payment alert" fraud). Commands are signed the
 * same way, with the same key and encoding (canonicalBytes, signBytes, verifyBytes): see
 * command-signing.ts.
 *
 * Replay is stopped in two layers: inside the freshness window by the device's id dedupe, and
 * outside it by `checkFreshness`. Parsing (notification.ts) only checks that `sig` is shaped
 * like a signature; verifying needs the trusted key, so it is a separate step.
 *
 * No platform code here: the bytes and the checks only. Keys are a platform's: signing and
 * Node's keys in signing-node.ts (broker, tools, Node boards), WebCrypto in verifying-key-web.ts.
 */
import { fromBase64url, utf8 } from './bytes.ts';
import { CHANNELS, KINDS } from './channels.ts';
import { DEVICE_ID_PATTERN, PROTOCOL_VERSION } from './topics.ts';
import { PAYMENT_ID_PATTERN, SIGNATURE_PATTERN, describeValue, type Notification } from './notification.ts';

/**
 * Names a signature's message type and version, so a signature over a notification can never
 * pass for one over another message the backend signs (a command, a v2 notification).
 */
function canonicalHeader(type: string): string {
  return `payspeaker/v${PROTOCOL_VERSION}/${type}\n`;
}

/** The signed fields, in the order they are encoded. `sig` itself is of course not among them. */
const SIGNED_FIELDS = ['v', 'id', 'device', 'amount', 'currency', 'channel', 'kind', 'createdAt'] as const;

/** Each signed field's value must match this before it is encoded; none admits a newline. */
const FIELD_FORMS: Record<(typeof SIGNED_FIELDS)[number], (value: unknown) => boolean> = {
  v: (x) => x === PROTOCOL_VERSION,
  id: (x) => typeof x === 'string' && PAYMENT_ID_PATTERN.test(x),
  device: (x) => typeof x === 'string' && DEVICE_ID_PATTERN.test(x),
  amount: (x) => Number.isSafeInteger(x),
  currency: (x) => typeof x === 'string' && /^[A-Z]{3}$/.test(x),
  channel: (x) => (CHANNELS as readonly unknown[]).includes(x),
  kind: (x) => (KINDS as readonly unknown[]).includes(x),
  createdAt: (x) => Number.isSafeInteger(x),
};

/** One field of a signed message: its name, its value, and whether the value is in a form that may be encoded. */
export type CanonicalField = readonly [name: string, value: unknown, valid: boolean];

/**
 * The bytes that are signed, for any message type the backend signs: the header
 * `payspeaker/v1/<type>`, then one `name=value\n` line per field in the order given (UTF-8).
 * The caller passes the fields in its fixed order and says which forms are valid; a field whose
 * value is not valid throws a TypeError (naming `parser`), because signing or verifying it would
 * mean trusting bytes we cannot define. See canonicalNotification for why the bytes are
 * unambiguous; every message type must keep the same rules (fixed names and order, no value
 * that can contain a newline, safe integers written by String()).
 */
export function canonicalBytes(type: string, parser: string, fields: readonly CanonicalField[]): Uint8Array {
  let text = canonicalHeader(type);
  for (const [name, value, valid] of fields) {
    if (!valid) {
      throw new TypeError(
        `cannot sign or verify a ${type} whose "${name}" is ${describeValue(value)}: parse it with ${parser} first`,
      );
    }
    text += `${name}=${String(value)}\n`;
  }
  return utf8(text);
}

/**
 * The bytes that are signed: the header, then one `name=value\n` line per signed field in the
 * fixed order above (UTF-8, which here is ASCII).
 *
 * Unambiguous, i.e. two different notifications never give the same bytes: names and their
 * order are fixed, every line ends in `\n`, and no value can contain `\n` (ids and devices
 * match restricted patterns, currency is three capitals, channel and kind are enum words,
 * numbers are safe integers). So the bytes split back into exactly one tuple of values.
 * Numbers are written by String(), which gives a safe integer exactly one spelling (no
 * exponent, no leading zeros or plus; -0 becomes "0", which the parser refuses anyway), so
 * `1`, `1.0` and `1e0` on the wire are the same signed value: what is verified is what was
 * parsed, not the JSON text. Throws a TypeError for a value outside these forms, because
 * signing or verifying such a notification would mean trusting bytes we cannot define.
 */
export function canonicalNotification(n: Notification): Uint8Array {
  return canonicalBytes(
    'notification',
    'parseNotification',
    SIGNED_FIELDS.map((field) => [field, n[field], FIELD_FORMS[field](n[field])] as const),
  );
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'bad-signature'; detail: string };

/**
 * The backend's public key, as a platform can check signatures with it: node:crypto on Node
 * (signing-node.ts: nodeVerifyingKey), WebCrypto in a browser (verifying-key-web.ts). Async,
 * because WebCrypto is. `pem` is the key itself (SPKI PEM), for code that needs it in another form.
 */
export interface VerifyingKey {
  readonly pem: string;
  /** True when `signature` is the key's Ed25519 signature of `data`. Never throws for bad input. */
  verify(data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** What a `sig` field must pass before any key is asked: the message's bytes and the signature's. */
export type SignatureInput =
  { ok: true; data: Uint8Array; signature: Uint8Array } | { ok: false; result: VerifyResult };

/**
 * The checks every verifier makes before the key is asked: `sig` present and shaped like 64 bytes
 * of base64url, and `encode` able to make the canonical bytes (an encoding error is a bad
 * signature). Never throws for anything a sender controls.
 */
export function signatureInput(sig: unknown, encode: () => Uint8Array): SignatureInput {
  if (sig === undefined || sig === null || sig === '') return { ok: false, result: badSignature('no signature') };
  // The pattern, not the decoder, decides validity: decoders skip characters they do not know,
  // so "AAAA!!!!" would decode quietly.
  if (typeof sig !== 'string' || !SIGNATURE_PATTERN.test(sig))
    return { ok: false, result: badSignature('signature is not 64 bytes of base64url') };
  try {
    return { ok: true, data: encode(), signature: fromBase64url(sig) };
  } catch (err) {
    return { ok: false, result: badSignature((err as Error).message) };
  }
}

/** The verdict once the key has answered. */
export function signatureVerdict(valid: boolean, what: string): VerifyResult {
  return valid
    ? { ok: true }
    : badSignature(`signature does not match: the ${what} was altered or signed by another key`);
}

/** Checks a `sig` field against the canonical bytes `encode` makes, with a platform's key. */
export async function verifyBytesWith(
  sig: unknown,
  encode: () => Uint8Array,
  key: VerifyingKey,
  what: string,
): Promise<VerifyResult> {
  const input = signatureInput(sig, encode);
  if (!input.ok) return input.result;
  return signatureVerdict(await key.verify(input.data, input.signature), what);
}

/** Checks `n.sig` with `key`; never throws for anything a sender controls. */
export function verifyNotificationWith(n: Notification, key: VerifyingKey): Promise<VerifyResult> {
  return verifyBytesWith(n.sig, () => canonicalNotification(n), key, 'notification');
}

function badSignature(detail: string): VerifyResult {
  return { ok: false, reason: 'bad-signature', detail };
}

export type FreshnessResult = { ok: true } | { ok: false; reason: 'expired' | 'from-the-future'; detail: string };

/**
 * Defaults for `checkFreshness`. The window is deliberately long: a speaker that was offline
 * receives its queued notifications late and still owes the merchant a summary of them. Inside
 * the window replays are stopped by id dedupe, so the window only has to outlast the dedupe
 * memory's reach, not the network's latency. The skew allows for a device clock a little behind.
 */
export const FRESHNESS_DEFAULTS = { maxAgeMs: 24 * 60 * 60 * 1000, maxSkewMs: 5 * 60 * 1000 } as const;

/** How checkFreshness names what it checks in its details; a notification unless told. */
export interface FreshnessSubject {
  /** "notification", "command". */
  what: string;
  /** What the sender should do about an expired one. */
  retry: string;
}

const NOTIFICATION_SUBJECT: FreshnessSubject = {
  what: 'notification',
  retry: 'send a new payment with a new id and the current time',
};

/** Is a message created at `createdAt` acceptable at `now` (both epoch ms)? Edges are inclusive. */
export function checkFreshness(
  createdAt: number,
  now: number,
  opts: { maxAgeMs: number; maxSkewMs: number; subject?: FreshnessSubject },
): FreshnessResult {
  const { what, retry } = opts.subject ?? NOTIFICATION_SUBJECT;
  for (const [name, value] of [
    ['createdAt', createdAt],
    ['now', now],
    ['maxAgeMs', opts.maxAgeMs],
    ['maxSkewMs', opts.maxSkewMs],
  ] as const) {
    if (!Number.isFinite(value))
      throw new RangeError(`checkFreshness: ${name} is ${value}; expected a finite number of milliseconds`);
  }
  const age = now - createdAt;
  if (age > opts.maxAgeMs) {
    // 1e11 ms is March 1973; 1e11 s is thousands of years away: below it, a time is in seconds.
    const hint =
      createdAt > 0 && createdAt < 1e11 ? '; createdAt looks like seconds: the protocol uses epoch milliseconds' : '';
    return {
      ok: false,
      reason: 'expired',
      detail: `${what} was created ${duration(age)} ago (createdAt ${createdAt}${hint}); a speaker accepts ${what}s at most ${duration(opts.maxAgeMs)} old: ${retry}`,
    };
  }
  if (-age > opts.maxSkewMs) {
    return {
      ok: false,
      reason: 'from-the-future',
      detail: `${what}'s createdAt ${createdAt} is ${duration(-age)} ahead of this speaker's clock (at most ${duration(opts.maxSkewMs)} allowed): check the backend's and the speaker's clocks (NTP)`,
    };
  }
  return { ok: true };
}

/** 90061000 → "25h 1m 1s": readable in an ack detail. */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return ms < 1000 ? `${ms} ms` : `${s} s`;
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return [h && `${h}h`, m && `${m}m`, s % 60 && `${s % 60}s`].filter(Boolean).join(' ');
}

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
 * node:crypto only (Node 18+ on the device): Ed25519 signs with a null digest algorithm.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
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
export function canonicalBytes(type: string, parser: string, fields: readonly CanonicalField[]): Buffer {
  let text = canonicalHeader(type);
  for (const [name, value, valid] of fields) {
    if (!valid) {
      throw new TypeError(
        `cannot sign or verify a ${type} whose "${name}" is ${describeValue(value)}: parse it with ${parser} first`,
      );
    }
    text += `${name}=${String(value)}\n`;
  }
  return Buffer.from(text, 'utf8');
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
export function canonicalNotification(n: Notification): Buffer {
  return canonicalBytes(
    'notification',
    'parseNotification',
    SIGNED_FIELDS.map((field) => [field, n[field], FIELD_FORMS[field](n[field])] as const),
  );
}

/**
 * Returns a copy of the signed fields (only those: what is sent is exactly what is signed) plus
 * `sig`. Throws a TypeError if a field is outside the protocol's forms: a backend bug.
 */
export function signNotification(n: Omit<Notification, 'sig'>, privateKey: KeyObject): Notification {
  requireEd25519(privateKey, 'private', 'sign notifications');
  const fields: Notification = {
    v: n.v,
    id: n.id,
    device: n.device,
    amount: n.amount,
    currency: n.currency,
    channel: n.channel,
    kind: n.kind,
    createdAt: n.createdAt,
  };
  return { ...fields, sig: signBytes(canonicalNotification(fields), privateKey, 'sign notifications') };
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'bad-signature'; detail: string };

/**
 * Checks `n.sig` against `publicKey`. Never throws for anything a sender controls; throws only
 * when the caller passes a key that is not an Ed25519 key (a configuration mistake).
 */
export function verifyNotification(n: Notification, publicKey: KeyObject): VerifyResult {
  return verifyBytes(n.sig, () => canonicalNotification(n), publicKey, 'notification');
}

/** Ed25519 over `data` with the backend's private key: the 64 bytes as 86 characters of unpadded base64url. */
export function signBytes(data: Buffer, privateKey: KeyObject, purpose: string): string {
  requireEd25519(privateKey, 'private', purpose);
  return sign(null, data, privateKey).toString('base64url');
}

/**
 * Checks a `sig` field against the canonical bytes `encode` makes of a message of type `what`.
 * Never throws for anything a sender controls (an encoding error is a bad signature); throws
 * only when the caller passes a key that is not an Ed25519 key (a configuration mistake).
 */
export function verifyBytes(sig: unknown, encode: () => Buffer, publicKey: KeyObject, what: string): VerifyResult {
  requireEd25519(publicKey, 'public', `verify ${what}s`);
  if (sig === undefined || sig === null || sig === '') return badSignature('no signature');
  // The pattern, not Buffer.from, decides validity: Node's base64 decoder skips characters it
  // does not know, so "AAAA!!!!" would decode quietly.
  if (typeof sig !== 'string' || !SIGNATURE_PATTERN.test(sig))
    return badSignature('signature is not 64 bytes of base64url');
  let data: Buffer;
  try {
    data = encode();
  } catch (err) {
    return badSignature((err as Error).message);
  }
  if (!verify(null, data, publicKey, Buffer.from(sig, 'base64url'))) {
    return badSignature(`signature does not match: the ${what} was altered or signed by another key`);
  }
  return { ok: true };
}

function badSignature(detail: string): VerifyResult {
  return { ok: false, reason: 'bad-signature', detail };
}

/** Verifying accepts a private key too (Node derives the public half); signing needs the private one. */
function requireEd25519(key: KeyObject, need: 'public' | 'private', purpose: string): void {
  const ok = key?.asymmetricKeyType === 'ed25519' && (need === 'public' || key.type === 'private');
  if (!ok) {
    const got = key?.asymmetricKeyType ? `a ${key.asymmetricKeyType} ${key.type} key` : describeValue(key);
    throw new TypeError(`to ${purpose} payspeaker needs an Ed25519 ${need} key, got ${got}`);
  }
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Reads the backend's public key as a device config holds it: a PEM block
 * (`-----BEGIN PUBLIC KEY-----`) or the 32 raw key bytes as base64url (43 characters).
 */
export function publicKeyFromString(text: string): KeyObject {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  const what = 'use the PEM in backend-key.pub.pem or the 43-character base64url raw key';
  if (trimmed.startsWith('-----BEGIN')) {
    if (!trimmed.startsWith('-----BEGIN PUBLIC KEY-----')) {
      const label = /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(trimmed)?.[1] ?? 'unknown';
      throw new Error(
        `backend public key is a PEM "${label}", not a "PUBLIC KEY": ${what} (never give a device the private key)`,
      );
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: trimmed, format: 'pem' });
    } catch (err) {
      throw new Error(`backend public key PEM cannot be read (${(err as Error).message}): ${what}`, { cause: err });
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new Error(`backend public key is a ${key.asymmetricKeyType} key, not Ed25519: ${what}`);
    }
    return key;
  }
  if (!/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/.test(trimmed)) {
    // The value is not echoed: a mistake here may be a pasted private key.
    throw new Error(
      `backend public key (${trimmed.length} characters) is neither a PEM public key nor 32 bytes of base64url: ${what}`,
    );
  }
  const der = Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(trimmed, 'base64url')]);
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** The public key (of a public or a private KeyObject) as an SPKI PEM block, as devices are given it. */
export function publicKeyToString(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
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
    return {
      ok: false,
      reason: 'expired',
      detail: `${what} was created ${duration(age)} ago (createdAt ${createdAt}); a speaker accepts ${what}s at most ${duration(opts.maxAgeMs)} old: ${retry}`,
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

/**
 * Time from the broker, protocol v1: how a speaker whose clock is unset (a box whose real-time
 * clock lost power boots in 1970) learns the time, as real boxes take it from the network.
 *
 *   device  → payspeaker/v1/devices/{id}/time/req   {"v":1,"nonce":"<16-64 lowercase hex>"}
 *   backend → payspeaker/v1/devices/{id}/time       {"v":1,"device":id,"nonce":…,"now":<epoch ms>,"sig":…}
 *
 * QoS 0 both ways, never retained: an answer is worth something only to the request it answers,
 * so nothing is queued for a device that is away. The answer is signed with the backend's key
 * over canonical bytes headed `payspeaker/v1/time` (signing.ts: canonicalBytes), so whoever can
 * publish on the broker but lacks the key cannot set a speaker's clock (which would make it
 * refuse genuine payments as expired, or take old ones as fresh); the header keeps a time
 * answer's signature from ever passing for a notification's or a command's. The device's fresh
 * nonce binds the answer to one request: a captured old answer cannot be replayed to wind a
 * clock back.
 *
 *   payspeaker/v1/time
 *   v=1
 *   device=SPK-0001
 *   nonce=9f2a61c0d3…
 *   now=1795528613108
 */
import { decodeUtf8, toHex, utf8Length } from './bytes.ts';
import { describeValue, SIGNATURE_PATTERN } from './notification.ts';
import { canonicalBytes, verifyBytesWith, type VerifyResult, type VerifyingKey } from './signing.ts';
import { DEVICE_ID_PATTERN, PROTOCOL_VERSION } from './topics.ts';

/** Both messages are well under 300 bytes; anything near this is an attack or a bug. */
export const MAX_TIME_MESSAGE_BYTES = 1024;

/** 8 to 32 random bytes as lowercase hex: one spelling per nonce, no newline. */
export const TIME_NONCE_PATTERN = /^[0-9a-f]{16,64}$/;

export interface TimeRequest {
  v: typeof PROTOCOL_VERSION;
  /** Fresh for each request; the answer must carry it back. */
  nonce: string;
}

export interface TimeAnswer {
  v: typeof PROTOCOL_VERSION;
  /** The device asking: an answer for another device is refused. */
  device: string;
  /** The request's nonce, echoed. */
  nonce: string;
  /** The broker's wall clock when it answered, Unix epoch milliseconds. */
  now: number;
  /** The backend's Ed25519 signature (base64url, 86 characters); absent only from an insecure broker. */
  sig?: string;
}

export type UnsignedTimeAnswer = Omit<TimeAnswer, 'sig'>;

export const TIME_REFUSALS = [
  'payload-too-large',
  'malformed-json',
  'not-an-object',
  'unsupported-version',
  'invalid-nonce',
  'wrong-device',
  'invalid-time',
  'bad-signature',
] as const;
export type TimeRefusal = (typeof TIME_REFUSALS)[number];

export type TimeRefused = { ok: false; reason: TimeRefusal; detail: string };
export type TimeParse<T> = { ok: true; value: T } | TimeRefused;

/** A nonce for a time request from 16 random bytes (the board's random source): 32 lowercase hex digits. */
export function timeNonce(random: Uint8Array): string {
  if (random.byteLength < 8 || random.byteLength > 32)
    throw new RangeError(`a time nonce needs 8 to 32 random bytes, got ${random.byteLength}`);
  return toHex(random);
}

export function encodeTimeRequest(r: TimeRequest): string {
  return JSON.stringify({ v: r.v, nonce: r.nonce });
}

export function encodeTimeAnswer(a: TimeAnswer): string {
  return JSON.stringify({
    v: a.v,
    device: a.device,
    nonce: a.nonce,
    now: a.now,
    ...(a.sig === undefined ? {} : { sig: a.sig }),
  });
}

/** Parses a request taken from a device's `time/req` topic. */
export function parseTimeRequest(payload: Uint8Array | string): TimeParse<TimeRequest> {
  const record = readObject(payload, 'time request');
  if (!record.ok) return record;
  const r = record.value;
  const version = checkVersion(r);
  if (version) return version;
  const nonce = checkNonce(r.nonce);
  if (nonce) return nonce;
  return { ok: true, value: { v: PROTOCOL_VERSION, nonce: r.nonce as string } };
}

/** Parses an answer taken from `expectedDevice`'s `time` topic. Checks shapes only; the signature is verifyTimeAnswer's. */
export function parseTimeAnswer(payload: Uint8Array | string, expectedDevice: string): TimeParse<TimeAnswer> {
  const record = readObject(payload, 'time answer');
  if (!record.ok) return record;
  const r = record.value;
  const version = checkVersion(r);
  if (version) return version;
  if (r.device !== expectedDevice) {
    return refuse(
      'wrong-device',
      `the time answer is for ${describeValue(r.device)}, but this is ${expectedDevice}: it answers another speaker's request`,
    );
  }
  const nonce = checkNonce(r.nonce);
  if (nonce) return nonce;
  if (!validTime(r.now)) {
    return refuse(
      'invalid-time',
      `"now" is ${describeValue(r.now)}: expected Unix epoch milliseconds as a positive integer`,
    );
  }
  const sig = r.sig === null ? undefined : r.sig;
  if (sig !== undefined && (typeof sig !== 'string' || !SIGNATURE_PATTERN.test(sig))) {
    return refuse('bad-signature', `"sig" is ${describeValue(sig)}: it must be 86 base64url characters`);
  }
  const answer: TimeAnswer = { v: PROTOCOL_VERSION, device: r.device, nonce: r.nonce as string, now: r.now as number };
  return { ok: true, value: sig === undefined ? answer : { ...answer, sig } };
}

/** The canonical bytes of a time answer (see the file comment). Throws a TypeError for a value outside its form. */
export function canonicalTimeAnswer(a: UnsignedTimeAnswer): Uint8Array {
  return canonicalBytes('time', 'parseTimeAnswer', [
    ['v', a.v, a.v === PROTOCOL_VERSION],
    ['device', a.device, typeof a.device === 'string' && DEVICE_ID_PATTERN.test(a.device)],
    ['nonce', a.nonce, typeof a.nonce === 'string' && TIME_NONCE_PATTERN.test(a.nonce)],
    ['now', a.now, validTime(a.now)],
  ]);
}

/** Checks `a.sig` with `key`; never throws for anything a sender controls. */
export function verifyTimeAnswerWith(a: TimeAnswer, key: VerifyingKey): Promise<VerifyResult> {
  return verifyBytesWith(a.sig, () => canonicalTimeAnswer(a), key, 'time answer');
}

function validTime(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) > 0 && (x as number) <= 8.64e15;
}

function refuse(reason: TimeRefusal, detail: string): TimeRefused {
  return { ok: false, reason, detail };
}

function checkVersion(r: Record<string, unknown>): TimeRefused | null {
  return r.v === PROTOCOL_VERSION
    ? null
    : refuse('unsupported-version', `"v" is ${describeValue(r.v)}; this side speaks protocol v${PROTOCOL_VERSION}`);
}

function checkNonce(nonce: unknown): TimeRefused | null {
  return typeof nonce === 'string' && TIME_NONCE_PATTERN.test(nonce)
    ? null
    : refuse('invalid-nonce', `"nonce" is ${describeValue(nonce)}: expected 16 to 64 lowercase hex digits`);
}

function readObject(payload: Uint8Array | string, what: string): TimeParse<Record<string, unknown>> {
  const size = typeof payload === 'string' ? utf8Length(payload) : payload.byteLength;
  if (size > MAX_TIME_MESSAGE_BYTES) {
    return refuse('payload-too-large', `a ${what} of ${size} bytes; at most ${MAX_TIME_MESSAGE_BYTES} are allowed`);
  }
  let raw: unknown;
  try {
    const text = decodeUtf8(payload);
    raw = JSON.parse(text);
  } catch (err) {
    return refuse('malformed-json', `the ${what} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return refuse('not-an-object', `the ${what} is ${describeValue(raw)}, not a JSON object`);
  }
  return { ok: true, value: raw as Record<string, unknown> };
}

/**
 * Signing and Node's keys, for the code that runs on Node: the broker and the tools sign
 * notifications, commands and time answers with the backend's private key; Node boards and tests
 * verify with a KeyObject. The canonical bytes and the checks are signing.ts's (platform-free,
 * shared with the firmware in a browser tab); only node:crypto lives here.
 *
 * Ed25519 signs with a null digest algorithm (node:crypto, Node 18+).
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalCommand, knownCommandFields, type UnsignedCommand } from './command-signing.ts';
import type { Command } from './command.ts';
import { describeValue, type Notification } from './notification.ts';
import {
  canonicalNotification,
  signatureInput,
  signatureVerdict,
  type VerifyResult,
  type VerifyingKey,
} from './signing.ts';
import { canonicalTimeAnswer, type TimeAnswer, type UnsignedTimeAnswer } from './time.ts';

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

/**
 * Checks `n.sig` against `publicKey`. Never throws for anything a sender controls; throws only
 * when the caller passes a key that is not an Ed25519 key (a configuration mistake).
 */
export function verifyNotification(n: Notification, publicKey: KeyObject): VerifyResult {
  return verifyBytes(n.sig, () => canonicalNotification(n), publicKey, 'notification');
}

/** Ed25519 over `data` with the backend's private key: the 64 bytes as 86 characters of unpadded base64url. */
export function signBytes(data: Uint8Array, privateKey: KeyObject, purpose: string): string {
  requireEd25519(privateKey, 'private', purpose);
  return sign(null, data, privateKey).toString('base64url');
}

/**
 * Checks a `sig` field against the canonical bytes `encode` makes of a message of type `what`,
 * synchronously, with a Node key (signing.ts: verifyBytesWith is the same check with any
 * platform's key). Never throws for anything a sender controls (an encoding error is a bad
 * signature); throws only when the caller passes a key that is not an Ed25519 key.
 */
export function verifyBytes(sig: unknown, encode: () => Uint8Array, publicKey: KeyObject, what: string): VerifyResult {
  requireEd25519(publicKey, 'public', `verify ${what}s`);
  const input = signatureInput(sig, encode);
  if (!input.ok) return input.result;
  return signatureVerdict(verify(null, input.data, publicKey, input.signature), what);
}

/**
 * A Node KeyObject as the firmware's VerifyingKey (signing.ts). node:crypto verifies at once;
 * the promise is only the interface's, which WebCrypto needs.
 */
export function nodeVerifyingKey(publicKey: KeyObject): VerifyingKey {
  requireEd25519(publicKey, 'public', 'verify signatures');
  const pem = publicKeyToString(publicKey);
  return {
    pem,
    verify: (data, signature) => {
      try {
        return Promise.resolve(verify(null, data, publicKey, signature));
      } catch {
        // A signature of the wrong length: not the key's signature.
        return Promise.resolve(false);
      }
    },
  };
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

/**
 * Returns the command with only its known fields (what is sent is exactly what is signed) plus
 * `sig`. Throws a TypeError if a field is outside the protocol's forms: a sender bug.
 */
export function signCommand(c: UnsignedCommand, privateKey: KeyObject): Command {
  const { sig: _ignored, ...fields } = knownCommandFields(c);
  return { ...fields, sig: signBytes(canonicalCommand(fields), privateKey, 'sign commands') } as Command;
}

/** Checks `c.sig` against `publicKey`; never throws for anything a sender controls. */
export function verifyCommand(c: Command, publicKey: KeyObject): VerifyResult {
  return verifyBytes(c.sig, () => canonicalCommand(c), publicKey, 'command');
}

/** The answer with only its known fields, plus `sig`. Throws a TypeError if a field is outside its form (a broker bug). */
export function signTimeAnswer(a: UnsignedTimeAnswer, privateKey: KeyObject): TimeAnswer {
  const fields: UnsignedTimeAnswer = { v: a.v, device: a.device, nonce: a.nonce, now: a.now };
  return { ...fields, sig: signBytes(canonicalTimeAnswer(fields), privateKey, 'sign time answers') };
}

/** Checks `a.sig` against `publicKey`; never throws for anything a sender controls. */
export function verifyTimeAnswer(a: TimeAnswer, publicKey: KeyObject): VerifyResult {
  return verifyBytes(a.sig, () => canonicalTimeAnswer(a), publicKey, 'time answer');
}

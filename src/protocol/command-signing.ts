/**
 * Signed commands, protocol v1. A command can do what a fake notification does — `replay` says
 * a payment in a payment's words, `set-volume 0` silences every announcement after it, `ota`
 * installs firmware — so a speaker with a backend key runs only commands the backend signed,
 * with the same Ed25519 key, the same canonical encoding (signing.ts: canonicalBytes) and the
 * same freshness check as notifications, plus a command-id dedupe on the device (device/trust.ts).
 *
 * The signed bytes (header `payspeaker/v1/command`, so a notification's signature can never pass
 * for a command's, nor the other way round):
 *
 *   payspeaker/v1/command
 *   v=1
 *   id=CMD-42
 *   device=SPK-0001
 *   command=set-volume
 *   createdAt=1795528613108
 *   value=3                          set-volume only
 *   url=… version=… sha256=… size=… signature=…     ota only, in this order
 *   deadlineMs=60000                 ota, when present
 *   allowDowngrade=true              ota, when present (true is its only value)
 *
 * Optional lines are absent, never empty; names and order are fixed, so the bytes split back
 * into exactly one command. No value can hold a newline: ids, devices, versions, hashes and
 * signatures match restricted patterns, command names come from a fixed list, numbers are safe
 * integers written by String(), and an ota URL with a control character is refused by the parser.
 */
import { VERSION_PATTERN } from './versions.ts';
import {
  ALL_COMMANDS,
  COMMAND_ID_PATTERN,
  isCommandUrl,
  OTA_COMMAND,
  RELEASE_SIGNATURE_PATTERN,
  SHA256_PATTERN,
  type Command,
  type CommandName,
} from './command.ts';
import {
  canonicalBytes,
  verifyBytesWith,
  type CanonicalField,
  type VerifyResult,
  type VerifyingKey,
} from './signing.ts';
import { DEVICE_ID_PATTERN, PROTOCOL_VERSION } from './topics.ts';

/**
 * How old a command may be when it arrives. Much shorter than a notification's 24 h: a command
 * is interactive (its sender waits for the result), a volume change or replay held for hours is
 * not wanted anyway, and a short window bounds how many ids the dedupe must remember.
 */
export const COMMAND_FRESHNESS = { maxAgeMs: 10 * 60 * 1000, maxSkewMs: 5 * 60 * 1000 } as const;

const safe = (x: unknown) => Number.isSafeInteger(x);
const matches = (pattern: RegExp) => (x: unknown) => typeof x === 'string' && pattern.test(x);

/** The canonical bytes of a parsed command (see the file comment). Throws a TypeError for a value outside its form. */
export function canonicalCommand(c: Command): Uint8Array {
  const field = (name: string, value: unknown, valid: (x: unknown) => boolean): CanonicalField => [
    name,
    value,
    valid(value),
  ];
  const fields: CanonicalField[] = [
    field('v', c.v, (x) => x === PROTOCOL_VERSION),
    field('id', c.id, matches(COMMAND_ID_PATTERN)),
    field('device', c.device, matches(DEVICE_ID_PATTERN)),
    field('command', c.command, (x) => ALL_COMMANDS.includes(x as CommandName)),
    field('createdAt', c.createdAt, (x) => safe(x) && (x as number) > 0),
  ];
  if (c.command === 'set-volume')
    fields.push(field('value', c.value, (x) => safe(x) && (x as number) >= 0 && (x as number) <= 10));
  if (c.command === OTA_COMMAND) {
    fields.push(
      field('url', c.url, isCommandUrl),
      field('version', c.version, matches(VERSION_PATTERN)),
      field('sha256', c.sha256, matches(SHA256_PATTERN)),
      field('size', c.size, (x) => safe(x) && (x as number) > 0),
      field('signature', c.signature, matches(RELEASE_SIGNATURE_PATTERN)),
    );
    if (c.deadlineMs !== undefined) fields.push(field('deadlineMs', c.deadlineMs, safe));
    if (c.allowDowngrade !== undefined) fields.push(field('allowDowngrade', c.allowDowngrade, (x) => x === true));
  }
  return canonicalBytes('command', 'parseCommand', fields);
}

/** A command to sign: whom it is for and when it was made are required. */
export type UnsignedCommand = Command & { device: string; createdAt: number };

/** Checks `c.sig` with `key`; never throws for anything a sender controls. */
export function verifyCommandWith(c: Command, key: VerifyingKey): Promise<VerifyResult> {
  return verifyBytesWith(c.sig, () => canonicalCommand(c), key, 'command');
}

/** The fields a command of its kind has, dropping anything else a caller passed along: what is sent is exactly what is signed. */
export function knownCommandFields(c: Command): Command {
  const common = {
    v: c.v,
    id: c.id,
    ...(c.device === undefined ? {} : { device: c.device }),
    ...(c.createdAt === undefined ? {} : { createdAt: c.createdAt }),
    ...(c.sig === undefined ? {} : { sig: c.sig }),
  };
  if (c.command === OTA_COMMAND) {
    return {
      ...common,
      command: c.command,
      url: c.url,
      version: c.version,
      sha256: c.sha256,
      size: c.size,
      signature: c.signature,
      ...(c.deadlineMs === undefined ? {} : { deadlineMs: c.deadlineMs }),
      ...(c.allowDowngrade === true ? { allowDowngrade: true as const } : {}),
    };
  }
  if (c.command === 'set-volume') return { ...common, command: c.command, value: c.value! };
  return { ...common, command: c.command };
}

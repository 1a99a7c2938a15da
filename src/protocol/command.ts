/**
 * Commands, protocol v1: what the backend (or the laptop's keys, or a test) asks a speaker to
 * do on its `cmd` topic, and the result it answers on `cmd/result`. The same actions as the
 * box's buttons, plus `ota`: install a firmware release over the air (docs/OTA.md).
 *
 * A command is signed like a notification (command-signing.ts): `device`, `createdAt` and `sig`
 * are optional here because an --insecure speaker still runs unsigned ones; a speaker with a
 * backend key requires all three (device/trust.ts).
 */
import { DEVICE_ID_PATTERN, PROTOCOL_VERSION } from './topics.ts';
import { describeValue, SIGNATURE_PATTERN } from './notification.ts';
import { VERSION_PATTERN } from './versions.ts';
import { decodeUtf8 } from './bytes.ts';

/** What the box's buttons do. */
export const COMMANDS = ['volume-up', 'volume-down', 'set-volume', 'replay', 'summary', 'battery'] as const;
export type ControlName = (typeof COMMANDS)[number];
export const OTA_COMMAND = 'ota';
export type CommandName = ControlName | typeof OTA_COMMAND;
export const ALL_COMMANDS: readonly CommandName[] = [...COMMANDS, OTA_COMMAND];

/** What makes a command signed: whom it is for, when it was made, and the backend's signature. */
export interface CommandSignature {
  /** The device the command is for; must be the receiving device. Signed. */
  device?: string;
  /** When the backend made it, Unix epoch ms: a speaker runs a command only while fresh. Signed. */
  createdAt?: number;
  /** The backend's Ed25519 signature over the canonical command (canonicalCommand), 86 base64url characters. */
  sig?: string;
}

export interface ControlCommand extends CommandSignature {
  v: typeof PROTOCOL_VERSION;
  /** Chosen by the sender; echoed in the result so it can match them. */
  id: string;
  command: ControlName;
  /** For set-volume: 0-10. */
  value?: number;
}

/** Install a firmware release: the fields of its release JSON, and where to download its tar.gz. */
export interface OtaCommand extends CommandSignature {
  v: typeof PROTOCOL_VERSION;
  id: string;
  command: typeof OTA_COMMAND;
  /** http(s) URL of the release's tar.gz (the broker serves it: GET /v1/firmware/<file>). */
  url: string;
  version: string;
  /** Hex sha256 of the tar.gz. */
  sha256: string;
  /** Bytes of the tar.gz; the download stops at this size. */
  size: number;
  /** Base64 Ed25519 signature over releaseMessage(version, sha256), by the backend's key. */
  signature: string;
  /** The new firmware must come online within this many ms, or the device goes back. Default 60 s. */
  deadlineMs?: number;
  /**
   * Install `version` even if it is older than the one running (anti-rollback is off for this
   * command). Present only when true; covered by the command's signature, so nobody can add it.
   */
  allowDowngrade?: true;
}

export type Command = ControlCommand | OtaCommand;

/** Where a firmware update stands, in the results of an `ota` command. */
export interface FirmwareReport {
  /** installing: verified and written, restarting now; updated / rolled-back: the final result after the restart. */
  status: 'installing' | 'updated' | 'rolled-back';
  /** The version that was (or is being) installed. */
  version: string;
}

export interface CommandResult {
  v: typeof PROTOCOL_VERSION;
  id: string | null;
  device: string;
  command: CommandName | null;
  ok: boolean;
  /** The volume after the command (volume commands). */
  volume?: number;
  /** What the speaker said in answer (replay, summary, battery, volume prompts). */
  text?: string;
  /** Why it failed, when ok is false. */
  error?: string;
  /** When the speaker refused to run the command at all because it cannot trust it (see CommandRefusal). */
  reason?: CommandRefusal;
  /** For ota: where the update stands. An ota command gets two results with its id: installing, then the final one. */
  firmware?: FirmwareReport;
  at: number;
}

/**
 * Why a speaker with a backend key refused to run a well-formed command: `bad-signature` (none,
 * malformed, or not the backend's over these fields), `expired` / `from-the-future` (createdAt
 * outside the freshness window), `duplicate` (this command id was run before: a replay).
 */
export type CommandRefusal = 'bad-signature' | 'expired' | 'from-the-future' | 'duplicate';

export type CommandParse =
  { ok: true; command: Command } | { ok: false; id: string | null; command: CommandName | null; error: string };

export const COMMAND_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const COMMAND_ID = COMMAND_ID_PATTERN;
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const SHA256 = SHA256_PATTERN;
/** A release's Ed25519 signature is 64 bytes: 88 base64 characters. */
export const RELEASE_SIGNATURE_PATTERN = /^[A-Za-z0-9+/]{86}==$/;
const SIGNATURE = RELEASE_SIGNATURE_PATTERN;
/** Bigger than any image we build (a few MB), small enough for a Pi's SD card and RAM. */
export const MAX_FIRMWARE_BYTES = 256 * 1024 * 1024;
export const OTA_DEADLINE = { defaultMs: 60_000, minMs: 5_000, maxMs: 60 * 60_000 } as const;
const MAX_URL_LENGTH = 2048;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks a command's fields. With `deviceId` (a speaker parsing its own topic), a `device` field
 * naming another device is refused. Unknown fields are ignored; the parsed command holds only
 * known ones, so what a signature is verified over is what was parsed.
 */
export function parseCommand(payload: Uint8Array | string, deviceId?: string): CommandParse {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : decodeUtf8(payload));
  } catch {
    return {
      ok: false,
      id: null,
      command: null,
      error: 'command is not valid JSON: send {"v":1,"id":"…","command":"volume-up"}',
    };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, id: null, command: null, error: `command is ${describeValue(raw)}, not a JSON object` };
  }
  const r = raw as Record<string, unknown>;
  const id = typeof r.id === 'string' && COMMAND_ID.test(r.id) ? r.id : null;
  const name = ALL_COMMANDS.includes(r.command as CommandName) ? (r.command as CommandName) : null;
  const fail = (error: string): CommandParse => ({ ok: false, id, command: name, error });
  if (r.v !== PROTOCOL_VERSION) return fail(`"v" is ${describeValue(r.v)}: send "v": 1`);
  if (id === null) return fail(`"id" is ${describeValue(r.id)}: it must be 1-64 letters, digits, ".", "_", ":" or "-"`);
  if (name === null)
    return fail(`"command" is ${describeValue(r.command)}: it must be one of ${ALL_COMMANDS.join(', ')}`);
  const signature = signatureProblem(r, deviceId);
  if (typeof signature === 'string') return fail(signature);
  if (name === OTA_COMMAND) {
    const error = otaProblem(r);
    if (error) return fail(error);
    const { url, version, sha256, size, signature: releaseSignature, deadlineMs } = r as unknown as OtaCommand;
    return {
      ok: true,
      command: {
        v: PROTOCOL_VERSION,
        id,
        command: name,
        url,
        version,
        sha256,
        size,
        signature: releaseSignature,
        ...(deadlineMs === undefined ? {} : { deadlineMs }),
        ...(r.allowDowngrade === true ? { allowDowngrade: true as const } : {}),
        ...signature,
      },
    };
  }
  if (name === 'set-volume') {
    if (!Number.isInteger(r.value) || (r.value as number) < 0 || (r.value as number) > 10) {
      return fail(`"value" is ${describeValue(r.value)}: set-volume needs an integer from 0 to 10`);
    }
    return { ok: true, command: { v: PROTOCOL_VERSION, id, command: name, value: r.value as number, ...signature } };
  }
  return { ok: true, command: { v: PROTOCOL_VERSION, id, command: name, ...signature } };
}

/** The signature fields present (each checked), or what is wrong with one of them. */
function signatureProblem(r: Record<string, unknown>, deviceId: string | undefined): CommandSignature | string {
  const out: CommandSignature = {};
  if (r.device !== undefined) {
    if (typeof r.device !== 'string' || !DEVICE_ID_PATTERN.test(r.device))
      return `"device" is ${describeValue(r.device)}: it must be the id of the device the command is for`;
    if (deviceId !== undefined && r.device !== deviceId)
      return `"device" is ${describeValue(r.device)}: this command is for another speaker (this is ${deviceId})`;
    out.device = r.device;
  }
  if (r.createdAt !== undefined) {
    if (!Number.isSafeInteger(r.createdAt) || (r.createdAt as number) <= 0)
      return `"createdAt" is ${describeValue(r.createdAt)}: it must be when the command was made, a positive integer of Unix epoch milliseconds`;
    out.createdAt = r.createdAt as number;
  }
  if (r.sig !== undefined) {
    if (typeof r.sig !== 'string' || !SIGNATURE_PATTERN.test(r.sig))
      return `"sig" is ${describeValue(r.sig)}: it must be the backend's Ed25519 signature, 86 characters of base64url`;
    out.sig = r.sig;
  }
  return out;
}

/** What is wrong with an ota command's fields, or null. */
function otaProblem(r: Record<string, unknown>): string | null {
  // Control characters (a newline) would pass the URL parser, which strips them; they are refused
  // so that no signed value can contain a line break (command-signing.ts).
  if (!isCommandUrl(r.url)) {
    return `"url" is ${describeValue(r.url)}: ota needs the http(s) URL of the release's tar.gz (e.g. http://broker:8081/v1/firmware/payspeaker-firmware-1.2.0.tar.gz)`;
  }
  if (typeof r.version !== 'string' || !VERSION_PATTERN.test(r.version)) {
    return `"version" is ${describeValue(r.version)}: it must be 1-64 letters, digits, ".", "+", "_" or "-" (the release's version)`;
  }
  if (typeof r.sha256 !== 'string' || !SHA256.test(r.sha256))
    return `"sha256" is ${describeValue(r.sha256)}: it must be the tar.gz's sha256, 64 lowercase hex digits`;
  if (!Number.isSafeInteger(r.size) || (r.size as number) <= 0 || (r.size as number) > MAX_FIRMWARE_BYTES) {
    return `"size" is ${describeValue(r.size)}: it must be the tar.gz's size in bytes, 1 to ${MAX_FIRMWARE_BYTES}`;
  }
  if (typeof r.signature !== 'string' || !SIGNATURE.test(r.signature)) {
    return `"signature" is ${describeValue(r.signature)}: it must be the release's base64 Ed25519 signature (88 characters)`;
  }
  if (r.allowDowngrade !== undefined && typeof r.allowDowngrade !== 'boolean') {
    return `"allowDowngrade" is ${describeValue(r.allowDowngrade)}: it must be true (install an older version on purpose) or absent`;
  }
  const { minMs, maxMs } = OTA_DEADLINE;
  if (
    r.deadlineMs !== undefined &&
    (!Number.isInteger(r.deadlineMs) || (r.deadlineMs as number) < minMs || (r.deadlineMs as number) > maxMs)
  ) {
    return `"deadlineMs" is ${describeValue(r.deadlineMs)}: it must be an integer from ${minMs} to ${maxMs} (ms the new firmware has to come online)`;
  }
  return null;
}

/** An ota command's `url`: http(s), no credentials, no control characters, at most 2048 characters. */
export function isCommandUrl(url: unknown): url is string {
  return typeof url === 'string' && url.length <= MAX_URL_LENGTH && !CONTROL.test(url) && isHttpUrl(url);
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

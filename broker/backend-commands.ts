/**
 * A command as the backend makes it for a speaker — the same for `npx payspeaker command` and
 * POST /v1/devices/:id/commands, so a command sent either way is byte for byte what the other
 * would send: a fresh id, the device it is for, when it was made, the command's own arguments,
 * and the backend's Ed25519 signature when there is a key (src/protocol/command-signing.ts).
 *
 * Only the box's buttons (COMMANDS). `ota` needs a release's fields and checks of its own, and
 * keeps its own CLI (`npx payspeaker ota`).
 */
import type { KeyObject } from 'node:crypto';
import {
  COMMANDS,
  describeValue,
  isDeviceId,
  OTA_COMMAND,
  parseCommand,
  PROTOCOL_VERSION,
  type Command,
  type ControlName,
  type UnsignedCommand,
} from '../src/protocol/index.ts';
import { signCommand } from '../src/protocol/signing-node.ts';
import { newPaymentId } from '../src/protocol/payment-ids.ts';

/** What a caller asks for: `args` holds the command's own fields (`value` for set-volume). */
export interface CommandRequest {
  device: string;
  command: string;
  args?: Record<string, unknown>;
}

/** Which part of the request was wrong, so the API can name the field. */
export type CommandRequestField = 'device' | 'command' | 'args';

export class CommandRequestError extends Error {
  override name = 'CommandRequestError';
  constructor(
    message: string,
    readonly field: CommandRequestField,
  ) {
    super(message);
  }
}

/** The arguments each command takes, in words: for errors and docs. */
export const COMMAND_ARGS: Readonly<Record<ControlName, Readonly<Record<string, string>>>> = {
  'volume-up': {},
  'volume-down': {},
  'set-volume': { value: 'an integer from 0 (silent) to 10 (loudest)' },
  replay: {},
  summary: {},
  battery: {},
};

/** Sortable by time like payment ids, and unique without coordination: CMD-<time36>-<10 hex>. */
export function newCommandId(now: number): string {
  return newPaymentId(now).replace('PAY', 'CMD');
}

/**
 * The unsigned command for `req`, made at `now`. Throws a CommandRequestError naming what was
 * wrong (which value, and what is accepted) before anything is sent.
 */
export function buildCommand(req: CommandRequest, now: number, id = newCommandId(now)): UnsignedCommand {
  if (!isDeviceId(req.device))
    throw new CommandRequestError(
      `${describeValue(req.device)} is not a device id: use 1-64 letters, digits, "-" or "_" (e.g. SPK-0001)`,
      'device',
    );
  const name = req.command;
  if (name === OTA_COMMAND)
    throw new CommandRequestError(
      'ota is not sent this way: a firmware update needs a signed release, so use "npx payspeaker ota" (docs/OTA.md)',
      'command',
    );
  if (!(COMMANDS as readonly string[]).includes(name))
    throw new CommandRequestError(
      `"command" is ${describeValue(name)}: it must be one of ${COMMANDS.join(', ')}`,
      'command',
    );
  const command = name as ControlName;
  const args = req.args ?? {};
  const takes = COMMAND_ARGS[command];
  const unknown = Object.keys(args).find((k) => !Object.hasOwn(takes, k));
  if (unknown !== undefined) {
    const accepted = Object.keys(takes);
    throw new CommandRequestError(
      `${command} takes ${accepted.length ? `only ${accepted.map((k) => `"${k}"`).join(', ')}` : 'no arguments'}, not "${unknown}"`,
      'args',
    );
  }
  const fields = { v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION, id, device: req.device, createdAt: now };
  if (command === 'set-volume') {
    const value = args.value;
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 10)
      throw new CommandRequestError(
        `"value" is ${describeValue(value)}: set-volume needs ${COMMAND_ARGS['set-volume'].value}`,
        'args',
      );
    return checked({ ...fields, command, value: value as number });
  }
  return checked({ ...fields, command });
}

/** Signed with the backend's key when there is one; unsigned (only an --insecure speaker runs it) when not. */
export function signIfKeyed(c: UnsignedCommand, key: KeyObject | null): Command {
  return key ? signCommand(c, key) : c;
}

/** The arguments a built command carries, as a caller gave them (`{ value }` for set-volume, else `{}`). */
export function commandArgs(c: Command): Record<string, unknown> {
  return c.command === 'set-volume' ? { value: c.value } : {};
}

/** The speaker's own parser is the last word: what it would refuse is refused here, with its reason. */
function checked(c: UnsignedCommand): UnsignedCommand {
  const parsed = parseCommand(JSON.stringify(c), c.device);
  if (!parsed.ok) throw new CommandRequestError(parsed.error, 'command');
  return c;
}

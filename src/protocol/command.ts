/**
 * Commands, protocol v1: what the backend (or the laptop's keys, or a test) asks a speaker to
 * do on its `cmd` topic, and the result it answers on `cmd/result`. The same actions as the
 * box's buttons.
 */
import { PROTOCOL_VERSION } from './topics.ts';
import { describeValue } from './notification.ts';

export const COMMANDS = ['volume-up', 'volume-down', 'set-volume', 'replay', 'summary', 'battery'] as const;
export type CommandName = (typeof COMMANDS)[number];

export interface Command {
  v: typeof PROTOCOL_VERSION;
  /** Chosen by the sender; echoed in the result so it can match them. */
  id: string;
  command: CommandName;
  /** For set-volume: 0-10. */
  value?: number;
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
  at: number;
}

export type CommandParse = { ok: true; command: Command } | { ok: false; id: string | null; command: CommandName | null; error: string };

const COMMAND_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export function parseCommand(payload: Uint8Array | string): CommandParse {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, id: null, command: null, error: 'command is not valid JSON: send {"v":1,"id":"…","command":"volume-up"}' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, id: null, command: null, error: `command is ${describeValue(raw)}, not a JSON object` };
  }
  const r = raw as Record<string, unknown>;
  const id = typeof r.id === 'string' && COMMAND_ID.test(r.id) ? r.id : null;
  const name = COMMANDS.includes(r.command as CommandName) ? (r.command as CommandName) : null;
  const fail = (error: string): CommandParse => ({ ok: false, id, command: name, error });
  if (r.v !== PROTOCOL_VERSION) return fail(`"v" is ${describeValue(r.v)}: send "v": 1`);
  if (id === null) return fail(`"id" is ${describeValue(r.id)}: it must be 1-64 letters, digits, ".", "_", ":" or "-"`);
  if (name === null) return fail(`"command" is ${describeValue(r.command)}: it must be one of ${COMMANDS.join(', ')}`);
  if (name === 'set-volume') {
    if (!Number.isInteger(r.value) || (r.value as number) < 0 || (r.value as number) > 10) {
      return fail(`"value" is ${describeValue(r.value)}: set-volume needs an integer from 0 to 10`);
    }
    return { ok: true, command: { v: PROTOCOL_VERSION, id, command: name, value: r.value as number } };
  }
  return { ok: true, command: { v: PROTOCOL_VERSION, id, command: name } };
}

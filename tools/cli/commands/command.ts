/**
 * `payspeaker command replay --device SPK-0001`: what the box's buttons do, sent over MQTT to
 * the device's command topic, signed with the backend key from the data directory (a speaker
 * with a backend key runs nothing else); prints the result it answers on cmd/result.
 */
import { Command, Option } from 'commander';
import {
  COMMANDS,
  isDeviceId,
  topics,
  type CommandName,
  type CommandResult,
  type UnsignedCommand,
} from '../../../src/protocol/index.ts';
import { endClient } from '../../../src/mqtt/connect.ts';
import { Asker, type Answer } from '../../../src/mqtt/ask.ts';
import { COMMAND_FRESHNESS } from '../../../src/protocol/command-signing.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { backendFromDataDir } from '../backend.ts';
import { brokerCliError, caOption, connectBackend, type BrokerFlags } from '../broker-connection.ts';
import { checkProvisioned, describePresence, devicePresence } from '../device-presence.ts';
import { buildCommand, CommandRequestError } from '../../../broker/backend-commands.ts';

interface CommandFlags extends DataFlags, BrokerFlags {
  device?: string;
  value?: string;
  insecure?: boolean;
  timeout: string;
  json?: boolean;
}

export function commandCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('command')
    .description("press a speaker's button remotely: volume, replay, today's summary, battery")
    .argument('<command>', `one of ${COMMANDS.join(', ')}`)
    .addOption(
      new Option('--device <device-id>', 'target speaker, e.g. SPK-0001').env('PAYSPEAKER_DEVICE').default(s.device),
    )
    .option('--value <n>', 'for set-volume: 0-10')
    .addOption(commonOptions.broker(s))
    .addOption(caOption())
    .addOption(
      new Option('--timeout <duration>', 'how long to wait for the result')
        .env('PAYSPEAKER_TIMEOUT')
        .default(s.timeout ?? '10s'),
    )
    .option(
      '--insecure',
      'no backend signing key: send the command unsigned (only an --insecure speaker runs it; a provisioned one refuses it)',
    )
    .addOption(commonOptions.json());
  return addDataOption(cmd, s).action(async (name: string, flags: CommandFlags) => {
    if (!flags.device || !isDeviceId(flags.device))
      throw new CliError('a valid target device is needed: pass --device SPK-0001');
    let unsigned: UnsignedCommand;
    try {
      // Built as the notification API builds it (broker/backend-commands.ts); the checks are the
      // device's own, so what it would refuse is refused here with its reason.
      unsigned = buildCommand(
        {
          device: flags.device,
          command: name,
          args: flags.value === undefined ? {} : { value: Number(flags.value) },
        },
        Date.now(),
      );
    } catch (err) {
      if (err instanceof CommandRequestError) throw new CliError(err.message.replace('"value"', '--value'));
      throw err;
    }
    const timeoutMs = parseDuration(flags.timeout, '--timeout');
    const dataDir = resolveDataDir(flags);
    const backend = backendFromDataDir(dataDir, {
      insecure: Boolean(flags.insecure),
      needsKey: true,
      what: 'command',
    });
    const device = flags.device;
    // Before connecting: a device the registry has never heard of cannot answer.
    const entry = checkProvisioned(dataDir, device, backend.credentials !== null);
    const client = await connectBackend(flags, `backend-cmd-${unsigned.id}`, backend.credentials);
    try {
      const presence = await devicePresence(client, device, entry);
      if (presence.kind !== 'online') {
        // Not sent: a speaker runs a command only within COMMAND_FRESHNESS of its making, and
        // a button press that lands minutes later is a surprise, not a help.
        throw new CliError(
          `${describePresence(device, presence)}: the command is not sent (a speaker runs one only within ` +
            `${COMMAND_FRESHNESS.maxAgeMs / 60_000} min of its making); send it once it is online ("npx payspeaker devices" shows when)`,
          EXIT.TIMEOUT,
        );
      }
      // Made and signed just before it is sent: a speaker runs a command only while it is fresh.
      const signed = backend.signCommand({ ...unsigned, createdAt: Date.now() });
      const result = await new Asker(client)
        .ask<CommandResult>({
          topic: topics.command(device),
          payload: JSON.stringify(signed),
          answerTopic: topics.commandResult(device),
          id: unsigned.id,
          read: readCommandResult,
          timeoutMs,
          timeoutError: () =>
            new CliError(
              `no result from ${device} within ${timeoutMs / 1000} s: is it running and online?`,
              EXIT.TIMEOUT,
            ),
        })
        .catch((err: unknown) => {
          throw brokerCliError(err);
        });
      ctx.print(flags.json ? JSON.stringify(result) : describe(result));
      if (!result.ok) throw new CliError(`${device} could not ${name}: ${result.error}`, EXIT.REJECTED);
    } finally {
      await endClient(client);
    }
  });
}

/** A result on cmd/result, paired by its command id; shared with `ota`. */
export function readCommandResult(payload: Buffer): Answer<CommandResult> | null {
  try {
    const r = JSON.parse(payload.toString()) as CommandResult;
    return typeof r?.id === 'string' ? { id: r.id, value: r } : null;
  } catch {
    return null;
  }
}

function describe(r: CommandResult): string {
  const parts = [r.volume === undefined ? null : `volume ${r.volume}/10`, r.text ? `said "${r.text}"` : null].filter(
    Boolean,
  );
  return r.ok
    ? `${r.device} ${r.command as CommandName}: ${parts.join(', ') || 'done'}`
    : `${r.device} refused ${r.command ?? 'the command'}: ${r.error}`;
}

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
import { BrokerRefusedError, BrokerUnreachableError, connectOnce, endClient } from '../../../src/mqtt/connect.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { backendFromDataDir } from '../backend.ts';
import type { Credentials } from '../../../broker/credentials.ts';
import { buildCommand, CommandRequestError } from '../../../broker/backend-commands.ts';

interface CommandFlags extends DataFlags {
  device?: string;
  value?: string;
  insecure?: boolean;
  broker: string;
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
    const backend = backendFromDataDir(resolveDataDir(flags), {
      insecure: Boolean(flags.insecure),
      needsKey: true,
      what: 'command',
    });
    const { credentials } = backend;
    // Made and signed just before it is sent: a speaker runs a command only while it is fresh.
    const payload = JSON.stringify(backend.signCommand({ ...unsigned, createdAt: Date.now() }));
    const result = await send(
      flags.broker,
      flags.device,
      unsigned.id,
      payload,
      parseDuration(flags.timeout, '--timeout'),
      credentials,
    );
    ctx.print(flags.json ? JSON.stringify(result) : describe(result));
    if (!result.ok) throw new CliError(`${flags.device} could not ${name}: ${result.error}`, EXIT.REJECTED);
  });
}

async function send(
  brokerUrl: string,
  device: string,
  id: string,
  payload: string,
  timeoutMs: number,
  credentials: Credentials | null,
): Promise<CommandResult> {
  const client = await connectOnce(brokerUrl, { clientId: `backend-cmd-${id}`, ...(credentials ?? {}) }).catch(
    (err: Error) => {
      if (err instanceof BrokerUnreachableError) throw new CliError(err.message, EXIT.UNREACHABLE);
      if (err instanceof BrokerRefusedError) throw new CliError(err.message, EXIT.REFUSED);
      throw err;
    },
  );
  try {
    const result = new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new CliError(
              `no result from ${device} within ${timeoutMs / 1000} s: is it running and online?`,
              EXIT.TIMEOUT,
            ),
          ),
        timeoutMs,
      );
      client.on('message', (_topic, message) => {
        const r = JSON.parse(message.toString()) as CommandResult;
        if (r.id !== id) return;
        clearTimeout(timer);
        resolve(r);
      });
    });
    await client.subscribeAsync(topics.commandResult(device), { qos: 1 });
    await client.publishAsync(topics.command(device), payload, { qos: 1 });
    return await result;
  } finally {
    await endClient(client);
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

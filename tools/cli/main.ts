/**
 * The `payspeaker` command line: one program, one file per command under commands/.
 * Errors meant for the user end with a one-line message and a meaningful exit code.
 */
import { Command, CommanderError } from 'commander';
import { configFlag, ConfigError, loadConfig } from '../../src/config.ts';
import { VERSION } from '../../src/version.ts';
import { defaultContext, type CliContext } from './context.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { brokerCommand } from './commands/broker.ts';
import { deviceCommand } from './commands/device.ts';
import { payCommand } from './commands/pay.ts';
import { demoCommand } from './commands/demo.ts';
import { voicepackCommand } from './commands/voicepack.ts';
import { commandCommand } from './commands/command.ts';
import { provisionCommand } from './commands/provision.ts';
import { devicesCommand } from './commands/devices.ts';
import { revokeCommand } from './commands/revoke.ts';
import { certsCommand } from './commands/certs.ts';
import { chaosCommand } from './commands/chaos.ts';
import { fleetCommand } from './commands/fleet.ts';
import { imageCommand } from './commands/image.ts';
import { otaCommand } from './commands/ota.ts';
import { flashCommand } from './commands/flash.ts';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('payspeaker')
    .description(
      'Payment speaker simulator: an MQTT broker, virtual speakers that announce payments aloud, and test payments.',
    )
    .version(VERSION)
    .option('--settings <file>', 'JSON settings file (default: ./payspeaker.config.json, then the user config dir)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Settings come from flags, then PAYSPEAKER_* environment variables, then the config file.
Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or input, 3 payment rejected (or update
            refused / rolled back), 4 no answer in time, 5 broker or device unreachable,
            6 credentials refused.

Examples:
  npx payspeaker demo                         broker + speaker + three sample payments
  npx payspeaker broker                       MQTT on 127.0.0.1:1883, WebSocket on :8080
  npx payspeaker provision SPK-0001           a device identity → SPK-0001.json
  npx payspeaker device --config SPK-0001.json   a virtual speaker
  npx payspeaker pay 123.45 --device SPK-0001 a test payment through the API; prints its final status
  npx payspeaker command replay --device SPK-0001   press a button remotely
  npx payspeaker voicepack build --lang hi-IN  record a voice pack
  npx payspeaker chaos --target 127.0.0.1:1883 --mean-fault-after 5s   a fault proxy for devices
  npx payspeaker fleet --devices 10000 --rate 1000   load test: lost, duplicated, p50/p99
  npx payspeaker image build                  a signed firmware image for a Raspberry Pi
  npx payspeaker flash pi@raspberrypi.local --config SPK-0001.json   install it over SSH
  npx payspeaker ota SPK-0001 --release firmware/payspeaker-firmware-V.json   update over the air`,
    );
  for (const make of [
    demoCommand,
    brokerCommand,
    deviceCommand,
    payCommand,
    commandCommand,
    provisionCommand,
    devicesCommand,
    revokeCommand,
    certsCommand,
    voicepackCommand,
    chaosCommand,
    fleetCommand,
    imageCommand,
    otaCommand,
    flashCommand,
  ])
    program.addCommand(make(ctx));
  program.exitOverride();
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let ctx: CliContext;
  try {
    const { file, settings } = loadConfig(configFlag(argv));
    ctx = defaultContext(settings, file);
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message, EXIT.USAGE);
    throw err;
  }
  try {
    await buildProgram(ctx).parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help text).
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof CliError) return fail(err.message, err.exitCode);
    return fail(`unexpected error: ${(err as Error).stack ?? String(err)}`, EXIT.FAILURE);
  }
}

function fail(message: string, code: number): number {
  process.stderr.write(`payspeaker: ${message}\n`);
  return code;
}

process.exitCode = await main(process.argv.slice(2));

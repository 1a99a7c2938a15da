/**
 * The `payspeaker` command line: one program, one file per command under commands/.
 * Errors meant for the user end with a one-line message and a meaningful exit code.
 */
import { Command, CommanderError } from 'commander';
import { configFlag, ConfigError, loadConfig } from '../../src/config.ts';
import { VERSION } from '../../src/version.ts';
import { defaultContext, type CliContext } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { failureFor } from './known-errors.ts';
import { handleClosedPipes, writeErr, writeOut } from './output.ts';
import { brokerCommand } from './commands/broker.ts';
import { deviceCommand } from './commands/device.ts';
import { payCommand } from './commands/pay.ts';
import { paymentsCommand } from './commands/payments.ts';
import { watchCommand } from './commands/watch.ts';
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
    .option('--debug', 'on an unexpected error, print its stack trace (also PAYSPEAKER_DEBUG=1)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Settings come from flags, then PAYSPEAKER_* environment variables, then the config file.
Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or input, 3 payment rejected (or update
            refused / rolled back), 4 no answer in time, 5 broker or device unreachable,
            6 credentials refused, 7 a server could not start (broker or chaos proxy: port in use).

Examples:
  npx payspeaker demo                         broker + speaker + three sample payments
  npx payspeaker broker                       MQTT on 127.0.0.1:1883, WebSocket on :8080
  npx payspeaker provision SPK-0001           a device identity → SPK-0001.json
  npx payspeaker device --config SPK-0001.json   a virtual speaker
  npx payspeaker pay 123.45 --device SPK-0001 a test payment through the API; prints its final status
  npx payspeaker payments PAY-…               a payment's history and why it is stuck
  npx payspeaker watch                        live: notifications, acks, speaker state, command results
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
    paymentsCommand,
    watchCommand,
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
  prepare(program);
  return program;
}

/**
 * Every command, nested ones too: Commander's errors come back to main() (exit 2) instead of
 * ending the process, its output goes through the pipe-safe writers, and a usage error says
 * where the usage is.
 */
function prepare(cmd: Command, names: string[] = []): void {
  const name = ['payspeaker', ...names].join(' ');
  cmd.exitOverride().configureOutput({
    writeOut: (text) => writeOut(text),
    writeErr: (text) => writeErr(text),
    outputError: (text, write) => write(withNumberHint(text, names[0])),
  });
  if (names.length > 0) cmd.showHelpAfterError(`(${name} --help shows its usage)`);
  for (const sub of cmd.commands) prepare(sub, [...names, sub.name()]);
}

/** `pay -5`: Commander takes "-5" for an option; say what was probably meant. */
function withNumberHint(text: string, command: string | undefined): string {
  const match = /unknown option '(-\d[\d.]*)'/.exec(text);
  if (!match) return text;
  const value = match[1]!;
  const hint =
    command === 'pay'
      ? `amounts are always positive: announce a refund with "pay ${value.slice(1)} --refund"`
      : `a value that starts with "-" goes after "--", as in "-- ${value}"`;
  return `${text.trimEnd()} (${hint})\n`;
}

/** --debug anywhere on the line (before a lone "--"), or PAYSPEAKER_DEBUG=1: read before parsing, so it works whatever fails. */
function debugWanted(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const end = argv.indexOf('--');
  if ((end === -1 ? argv : argv.slice(0, end)).includes('--debug')) return true;
  return /^(1|true|yes)$/i.test(env.PAYSPEAKER_DEBUG ?? '');
}

export async function main(argv: string[]): Promise<number> {
  const debug = debugWanted(argv, process.env);
  let ctx: CliContext;
  // A broken settings file must not break --help or --version: it is reported only when a
  // command is about to run, which is the first time its settings matter.
  let configError: ConfigError | null = null;
  try {
    const { file, settings } = loadConfig(configFlag(argv));
    ctx = defaultContext(settings, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) return report(err, debug);
    configError = err;
    ctx = defaultContext({}, null);
  }
  try {
    const program = buildProgram(ctx);
    if (configError) {
      const deferred = configError;
      program.hook('preAction', () => {
        throw deferred;
      });
    }
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help text).
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return report(err, debug);
  }
}

/** One line for a known failure; for anything else, the message, and the stack only when asked for. */
function report(err: unknown, debug: boolean): number {
  const { message, exitCode } = failureFor(err, debug);
  return fail(message, exitCode);
}

function fail(message: string, code: number): number {
  writeErr(`payspeaker: ${message}\n`);
  return code;
}

const debug = debugWanted(process.argv.slice(2), process.env);
// The reader of stdout has gone (`| head -1`): a long-running command (broker, device, watch)
// shuts down as on Ctrl-C, anything else simply ends; either way with 0, as `git log | head` does.
let stdoutGone = false;
handleClosedPipes(() => {
  stdoutGone = true;
  process.exitCode = EXIT.OK;
  if (process.listenerCount('SIGTERM') === 0) process.exit(EXIT.OK);
  process.emit('SIGTERM', 'SIGTERM');
  // A shutdown that hangs must not keep a process nobody is reading alive.
  setTimeout(() => process.exit(EXIT.OK), 5000).unref();
});
// Errors thrown outside a command's promise (an event handler, a timer) end the same way as those inside it.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => process.exit(report(err, debug)));
}
const code = await main(process.argv.slice(2));
process.exitCode = stdoutGone ? EXIT.OK : code;

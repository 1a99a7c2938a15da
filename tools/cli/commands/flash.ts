/**
 * `payspeaker flash pi@raspberrypi.local --config SPK-0001.json`: install a firmware image on a
 * device over SSH (A/B slots), and keep it only if the device comes online with it.
 * The work is in tools/flash/; this file turns flags into its options and its errors into exit codes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { readBackendCredentials } from '../../../broker/credentials.ts';
import { flash, type FlashResult } from '../../flash/flash.ts';
import { FlashError, type FlashFailure } from '../../flash/errors.ts';
import { resolveImage } from '../../flash/image-source.ts';
import { systemdManager } from '../../flash/init/systemd.ts';
import { commandManager } from '../../flash/init/command.ts';
import { parseTarget } from '../../flash/ssh.ts';
import { loadDeviceConfig } from '../device-config.ts';
import { parseFirmwareConfig } from '../../../device/boot/firmware-config.ts';
import { DeviceConfigError } from '../../../device/boot/device-config.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { parseDuration } from '../duration.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseBrokerUrl } from '../url-option.ts';

interface FlashFlags extends DataFlags {
  config?: string;
  image?: string;
  imageRelease?: string;
  identity?: string;
  port: string;
  root: string;
  knownHosts: string;
  acceptHostKey?: string;
  init: 'systemd' | 'none';
  restartCommand?: string;
  broker?: string;
  timeout: string;
  dryRun?: boolean;
  json?: boolean;
}

/** Exit codes: what went wrong decides, so a script can tell a bad image from a device that would not take it. */
const EXIT_FOR: Record<FlashFailure, number> = {
  input: EXIT.USAGE,
  unreachable: EXIT.UNREACHABLE,
  'host-key': EXIT.REFUSED,
  auth: EXIT.REFUSED,
  remote: EXIT.FAILURE,
  'rolled-back': EXIT.REJECTED,
};

export function flashCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('flash')
    .description(
      'install the speaker firmware on a device (a Raspberry Pi) over SSH, into the inactive A/B slot, and keep it only if the device comes online with it',
    )
    .argument('<user@host>', 'the device, e.g. pi@raspberrypi.local')
    .requiredOption(
      '--config <file>',
      'the device config "payspeaker provision" wrote (plus firmware settings: lang, audio, board, pi)',
    )
    .option('--image <dir>', 'an image folder from "payspeaker image build" (default: the newest in ./firmware)')
    .option(
      '--image-release <file.json>',
      'a release JSON; its tarball beside it is checked against the signed release, then unpacked',
    )
    .option(
      '--identity <file>',
      'SSH private key (default: ~/.ssh/id_ed25519, ~/.ssh/id_rsa, and ssh-agent via SSH_AUTH_SOCK)',
    )
    .option('--port <n>', 'SSH port', '22')
    .option('--root <dir>', 'install folder on the device', '/opt/payspeaker')
    .option(
      '--known-hosts <file>',
      'known_hosts file the host key is checked against',
      path.join(os.homedir(), '.ssh', 'known_hosts'),
    )
    .option(
      '--accept-host-key <SHA256:…>',
      'trust this host key fingerprint for a device not in known_hosts yet (flash prints it), and add it there',
    )
    .addOption(
      new Option(
        '--init <kind>',
        'what runs the loader on the device: systemd, or none (then --restart-command restarts it)',
      )
        .choices(['systemd', 'none'])
        .default('systemd'),
    )
    .option(
      '--restart-command <cmd>',
      'with --init none: the shell command, run on the device, that restarts the loader',
    )
    .option(
      '--broker <url>',
      "broker to watch the device come online on (default: the one in the device's config)",
      parseBrokerUrl(),
    )
    .addOption(
      new Option(
        '--timeout <duration>',
        'how long the new firmware has to come online (also its trial deadline on the device)',
      ).default('60s'),
    )
    .option(
      '--dry-run',
      'connect, read the device state, check the image, and print the plan: nothing on the device is changed',
    )
    .addOption(commonOptions.json())
    .addHelpText(
      'after',
      `
Steps: connect, check Node (18+) on the device, read ROOT/state.json, verify the image with the
config's backendPublicKey, upload it into the inactive slot (checked by sha256 on the device),
write ROOT/config/device.json (0600), install payspeaker.service, begin a trial of the new slot
and restart, wait for the device's retained state to say online with the new version. If it does
not come online (or crashes) within --timeout, the previous slot is made active again.

The backend's MQTT credentials for watching come from the broker's data dir (--data).
An encrypted --identity needs its passphrase in PAYSPEAKER_SSH_PASSPHRASE (or use ssh-agent).

Exit codes: 0 flashed and online, 2 bad option/config/image (nothing sent), 3 rolled back (the
new firmware did not come online), 5 device unreachable, 6 host key or login refused,
1 something failed on the device.

Examples:
  npx payspeaker image build
  npx payspeaker flash pi@raspberrypi.local --config SPK-0001.json --dry-run
  npx payspeaker flash pi@raspberrypi.local --config SPK-0001.json --image firmware/payspeaker-firmware-0.1.0+20260101120000`,
    );
  return addDataOption(cmd, s).action(async (targetText: string, flags: FlashFlags) => {
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    try {
      const result = await flash(toOptions(targetText, flags, progress));
      ctx.print(flags.json ? JSON.stringify(result) : describe(result));
    } catch (err) {
      if (!(err instanceof FlashError)) throw err;
      if (flags.json) ctx.print(JSON.stringify({ ok: false, kind: err.kind, error: err.message, ...err.details }));
      throw new CliError(err.message, EXIT_FOR[err.kind]);
    }
  });
}

function toOptions(
  targetText: string,
  flags: FlashFlags,
  progress: (line: string) => void,
): Parameters<typeof flash>[0] {
  const configFile = path.resolve(flags.config!);
  const config = loadDeviceConfig(configFile);
  const backendPublicKey = config.backendPublicKey;
  if (!backendPublicKey)
    throw new CliError(
      `--config ${configFile} has no backendPublicKey: the device could not check images or payments; provision it again (npx payspeaker provision ${config.id} --force)`,
    );
  try {
    // The firmware's own settings (lang, audio, board) are checked here, not after the device fails to boot.
    parseFirmwareConfig(JSON.parse(fs.readFileSync(configFile, 'utf8')));
  } catch (err) {
    if (err instanceof DeviceConfigError) throw new CliError(`--config ${configFile}: ${err.message}`);
    throw err;
  }
  if (flags.init === 'none' && !flags.restartCommand)
    throw new CliError(
      '--init none needs --restart-command CMD: the command, run on the device, that restarts the loader',
    );
  if (flags.init === 'systemd' && flags.restartCommand)
    throw new CliError('--restart-command is for --init none; with systemd flash restarts payspeaker.service itself');
  const port = Number(flags.port);
  const timeoutMs = parseDuration(flags.timeout, '--timeout');
  const dataDir = resolveDataDir(flags);
  let backendCredentials;
  try {
    backendCredentials = readBackendCredentials(dataDir);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return {
    ssh: {
      target: parseTarget(targetText, port),
      ...(flags.identity ? { identity: path.resolve(flags.identity) } : {}),
      ...(process.env.PAYSPEAKER_SSH_PASSPHRASE ? { passphrase: process.env.PAYSPEAKER_SSH_PASSPHRASE } : {}),
      ...(process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
      knownHostsFile: path.resolve(flags.knownHosts),
      ...(flags.acceptHostKey ? { acceptHostKey: flags.acceptHostKey } : {}),
      timeoutMs: 20_000,
    },
    root: flags.root,
    device: { id: config.id, configBytes: fs.readFileSync(configFile), configFile, ca: config.ca },
    image: () =>
      resolveImage({ image: flags.image, release: flags.imageRelease, cwd: process.cwd(), backendPublicKey }),
    init: (system) => {
      if (flags.init === 'none') return commandManager({ root: flags.root, restartCommand: flags.restartCommand! });
      if (!system.hasSystemd)
        throw new FlashError(
          'input',
          'the device has no systemd (no systemctl): pass --init none --restart-command CMD with the command that restarts the loader there',
        );
      return systemdManager({ root: flags.root, uid: system.uid });
    },
    brokerUrl: flags.broker ?? config.broker,
    backendCredentials,
    timeoutMs,
    dryRun: Boolean(flags.dryRun),
    progress,
  };
}

function describe(r: FlashResult): string {
  if (r.dryRun)
    return `dry run: would flash ${r.version} into slot ${r.slot} of ${r.host}:${r.root} (${r.previous.version ?? 'nothing'} in slot ${r.previous.slot} stays as the fallback)`;
  return `${r.device} on ${r.host} runs ${r.version} from slot ${r.slot} (was ${r.previous.version ?? 'fresh'}), online and confirmed in ${(r.durationMs / 1000).toFixed(1)} s`;
}

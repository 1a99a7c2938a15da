/**
 * `payspeaker ota SPK-0001 --release firmware/payspeaker-firmware-1.2.0.json`: update a flashed
 * speaker over the air. Uploads the release (tar.gz + JSON) to the broker's HTTP server, sends
 * the `ota` command on the device's command topic, and follows it to the end: the speaker
 * answers "installing" (or refuses), restarts into the new slot, and reports either the new
 * version or that it rolled back, and why. See docs/OTA.md.
 */
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { MqttClient } from 'mqtt';
import {
  isDeviceId,
  parseCommand,
  topics,
  OTA_DEADLINE,
  type CommandResult,
  type OtaCommand,
} from '../../../src/protocol/index.ts';
import { releaseFileName, releaseProblem, type Release } from '../../../src/firmware/image.ts';
import { verifyReleaseFile } from '../../../src/firmware/image-files.ts';
import { endClient } from '../../../src/mqtt/connect.ts';
import { Asker } from '../../../src/mqtt/ask.ts';
import { newPaymentId } from '../../../src/protocol/payment-ids.ts';
import { readBackendPublicKey } from '../../../broker/data-dir.ts';
import { DEFAULT_HTTP_PORT } from '../../../broker/service.ts';
import { ApiRequestError, ApiUnreachableError, NotificationApi } from '../../api/client.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { backendFromDataDir } from '../backend.ts';
import { parseApiUrl } from '../url-option.ts';
import { brokerCliError, caOption, connectBackend, type BrokerFlags } from '../broker-connection.ts';
import { checkProvisioned, describePresence, devicePresence } from '../device-presence.ts';
import { readCommandResult } from './command.ts';

interface OtaFlags extends DataFlags, BrokerFlags {
  release?: string;
  api: string;
  downloadUrl?: string;
  deadline: string;
  timeout: string;
  insecure?: boolean;
  allowDowngrade?: boolean;
  json?: boolean;
}

export function otaCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('ota')
    .description(
      'update a flashed speaker over the air: upload a firmware release to the broker, send it, wait for the new version (or the rollback)',
    )
    .argument('<device-id>', 'the speaker, e.g. SPK-0001 (it must run from an A/B install made by "payspeaker flash")')
    .requiredOption(
      '--release <file.json>',
      'the release "payspeaker image build" wrote (its tar.gz beside it), e.g. firmware/payspeaker-firmware-1.2.0.json',
    )
    .addOption(
      new Option('--api <url>', "the broker's HTTP server (the notification API): the release is uploaded there")
        .argParser(parseApiUrl())
        .env('PAYSPEAKER_API')
        .default(s.api ?? `http://127.0.0.1:${DEFAULT_HTTP_PORT}`),
    )
    .option(
      '--download-url <url>',
      'the same HTTP server as the speaker reaches it, if not as --api (e.g. http://192.168.1.10:8081)',
      parseApiUrl('--download-url'),
    )
    .addOption(commonOptions.broker(s))
    .addOption(caOption())
    .addOption(
      new Option(
        '--deadline <duration>',
        'the new firmware must come online within this, or the speaker goes back to the old one',
      ).default(`${OTA_DEADLINE.defaultMs / 1000}s`),
    )
    .addOption(
      new Option(
        '--timeout <duration>',
        'how long to wait for the final result (download, install, restart and the deadline)',
      ).default('3m'),
    )
    .option(
      '--allow-downgrade',
      'install the release even if it is older than the version the speaker runs (it refuses that otherwise: anti-rollback); the flag is signed with the command',
    )
    .option(
      '--insecure',
      'no backend credentials (an --insecure broker); without a signing key in --data the command goes unsigned, which a speaker refuses',
    )
    .addOption(commonOptions.json())
    .addHelpText(
      'after',
      `
The command is signed with the backend key from --data. The speaker checks that signature,
refuses a version older than the one it runs unless --allow-downgrade was given, checks the
release's signature and the download's sha256 before it writes anything; then it writes its
inactive slot, restarts into it, and keeps it only if it comes online within --deadline.

Exit codes: 0 updated, 2 bad input, 3 refused by the speaker or rolled back (the reason is
printed), 4 no final result within --timeout, 5 broker unreachable, 6 credentials refused.

Example:
  npx payspeaker image build --image-version 1.2.0
  npx payspeaker ota SPK-0001 --release firmware/payspeaker-firmware-1.2.0.json`,
    );
  return addDataOption(cmd, s).action(async (device: string, flags: OtaFlags) => {
    if (!isDeviceId(device))
      throw new CliError(
        `${JSON.stringify(device)} is not a device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
      );
    const timeoutMs = parseDuration(flags.timeout, '--timeout');
    // What was typed first (the release's JSON), then what the data directory holds.
    const read = readRelease(flags.release!);
    const dataDir = resolveDataDir(flags);
    const backend = backendFromDataDir(dataDir, {
      insecure: Boolean(flags.insecure),
      needsKey: true,
      what: 'command',
    });
    const credentials = flags.insecure ? null : backend.credentials;
    // Checked first, before the release is read, uploaded (19 MB) and waited for (3 min): for
    // a device the registry has never heard of, none of that can help.
    const entry = checkProvisioned(dataDir, device, credentials !== null);
    checkTarball(flags.release!, read, dataDir);
    const { release, tarball } = read;
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    const command = otaCommandFor(device, release, flags);
    const client = await connectBackend(flags, `backend-ota-${command.id}`, credentials);
    try {
      const presence = await devicePresence(client, device, entry);
      if (presence.kind !== 'online')
        throw new CliError(
          `${describePresence(device, presence)}: nothing uploaded or sent; run ota again once it is online ("npx payspeaker devices" shows when)`,
          EXIT.TIMEOUT,
        );
      progress(`uploading ${release.file} (${(release.size / 1e6).toFixed(1)} MB) to ${flags.api}`);
      await upload(new NotificationApi(flags.api, credentials?.password ?? null), release, tarball);
      // Signed only now, after the upload (which may take a while): a speaker runs a command only while it is fresh.
      const signed = backend.signCommand({ ...command, device, createdAt: Date.now() });
      const final = await follow(
        client,
        device,
        signed as OtaCommand,
        timeoutMs,
        (r) => {
          progress(`${device}: ${r.text ?? 'installing'}`);
          if (flags.json) ctx.print(JSON.stringify(r));
        },
        progress,
      ).catch((err: unknown) => {
        throw brokerCliError(err);
      });
      if (flags.json) ctx.print(JSON.stringify(final));
      else if (final.ok) ctx.print(`${device} updated to ${final.firmware?.version ?? release.version}`);
      if (!final.ok) {
        const what = final.firmware?.status === 'rolled-back' ? 'rolled back' : 'refused the update';
        throw new CliError(`${device} ${what}: ${final.error}`, EXIT.REJECTED);
      }
    } finally {
      await endClient(client);
    }
  });
}

/** The release JSON and its tar.gz, checked here first (with the backend key, if this data folder has it). */
/** The release JSON, its shape checked: cheap, so a mistyped --release is said before anything else. */
function readRelease(file: string): { release: Release; tarball: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new CliError(
      `--release ${file}: ${why}: pass the payspeaker-firmware-<version>.json that "npx payspeaker image build" wrote`,
    );
  }
  const problem = releaseProblem(parsed);
  if (problem) throw new CliError(`--release ${file} is not a firmware release: ${problem}`);
  const release = parsed as Release;
  const tarball = path.join(path.dirname(file), release.file);
  if (!fs.existsSync(tarball))
    throw new CliError(`--release ${file}: its tarball ${tarball} is missing: keep it beside the release JSON`);
  return { release, tarball };
}

/** The tarball against the release (hash, size, signature when the data dir has the backend's key): reads it all. */
function checkTarball(
  file: string,
  { release, tarball }: { release: Release; tarball: string },
  dataDir: string,
): void {
  const pem = readBackendPublicKey(dataDir);
  if (pem) {
    const verdict = verifyReleaseFile(release, tarball, createPublicKey(pem));
    if (!verdict.ok) throw new CliError(`--release ${file}: ${verdict.reason}`);
  }
}

function otaCommandFor(device: string, release: Release, flags: OtaFlags): OtaCommand {
  const base = (flags.downloadUrl ?? flags.api).replace(/\/+$/, '');
  const payload = {
    v: 1,
    id: newPaymentId().replace('PAY', 'OTA'),
    command: 'ota',
    url: `${base}/v1/firmware/${encodeURIComponent(release.file)}`,
    version: release.version,
    sha256: release.sha256,
    size: release.size,
    signature: release.signature,
    deadlineMs: parseDuration(flags.deadline, '--deadline'),
    ...(flags.allowDowngrade ? { allowDowngrade: true } : {}),
  };
  const checked = parseCommand(JSON.stringify(payload)); // the speaker would refuse it: say why here instead
  if (!checked.ok) throw new CliError(`cannot send this update to ${device}: ${checked.error}`);
  return checked.command as OtaCommand;
}

async function upload(api: NotificationApi, release: Release, tarball: string): Promise<void> {
  try {
    await api.uploadFirmware(release.file, fs.readFileSync(tarball));
    await api.uploadFirmware(releaseFileName(release.version), Buffer.from(JSON.stringify(release)));
  } catch (err) {
    if (err instanceof ApiUnreachableError) throw new CliError(err.message, EXIT.UNREACHABLE);
    if (err instanceof ApiRequestError && err.status === 401) {
      throw new CliError(
        `the broker refused the upload: ${err.message}; point --data at the broker's data directory`,
        EXIT.REFUSED,
      );
    }
    if (err instanceof ApiRequestError)
      throw new CliError(
        `the broker refused the release (HTTP ${err.status}, ${err.code}): ${err.message}`,
        err.status < 500 ? EXIT.USAGE : EXIT.FAILURE,
      );
    throw err;
  }
}

/**
 * Publishes the command and waits for its final result: a refusal, or (after "installing") the
 * result the speaker sends once it is back: updated, or rolled back.
 */
function follow(
  client: MqttClient,
  device: string,
  command: OtaCommand,
  timeoutMs: number,
  onInstalling: (r: CommandResult) => void,
  progress: (line: string) => void,
): Promise<CommandResult> {
  const final = new Asker(client).ask<CommandResult>({
    topic: topics.command(device),
    payload: JSON.stringify(command),
    answerTopic: topics.commandResult(device),
    id: command.id,
    read: readCommandResult,
    isProgress: (r) => r.ok && r.firmware?.status === 'installing',
    onProgress: onInstalling,
    timeoutMs,
    timeoutError: (installing) =>
      new CliError(
        installing
          ? `${device} installed ${command.version} and restarted, but sent no final result within ${timeoutMs / 1000} s: is it online? (its boot log says which slot runs)`
          : `no answer from ${device} within ${timeoutMs / 1000} s: is it running and online?`,
        EXIT.TIMEOUT,
      ),
  });
  progress(
    `sent ${command.version} to ${device} (command ${command.id}); waiting for it to install, restart and come back`,
  );
  return final;
}

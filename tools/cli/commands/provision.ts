/**
 * `payspeaker provision SPK-0001`: create a device identity with a random secret, record it
 * (hashed) in the broker's registry, and write the device's config file — the only place the
 * secret is ever written in clear.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import {
  checkProvisionable,
  provisionDevice,
  ProvisioningError,
  type Provisioned,
} from '../../../broker/credentials.ts';
import { brokerDir, registryFile, writeSecretFile } from '../../../broker/data-dir.ts';
import { loadOrCreateBackendKeys } from '../../../broker/backend-keys.ts';
import { readCaCertificate, tlsFiles } from '../../../broker/tls.ts';
import { addDataOption, resolveDataDir, withRegistry, type DataFlags } from '../data-option.ts';
import { isDeviceId } from '../../../src/protocol/index.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { loadDeviceConfig } from '../device-config.ts';

/** What a device reads at boot: who it is, where the broker is, its credentials, whom to trust. */
export interface DeviceConfigFile {
  id: string;
  broker: string;
  username: string;
  password: string;
  /** PEM of the backend's signing key; null until the backend has one. */
  backendPublicKey: string | null;
  /** PEM of the development CA (DIR/certs/ca.pem, from `payspeaker certs`) when there is one. */
  ca?: string;
}

interface ProvisionFlags extends DataFlags {
  broker: string;
  out?: string;
  force?: boolean;
  updateCa?: boolean;
  json?: boolean;
}

export function provisionCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('provision')
    .description("create a device identity, record it in the broker's registry, and write the device's config file")
    .argument('<device-id>', 'the new device, e.g. SPK-0001')
    .addOption(commonOptions.broker(s))
    .option('--out <file>', "where to write the device's config (default: ./<device-id>.json)")
    .option(
      '--force',
      'provision again: issue a new secret (the old one stops working; a revoked device becomes active)',
    )
    .option(
      '--update-ca',
      'rewrite the CA in the device\'s existing config (--out, default ./<device-id>.json) from DIR/certs/ca.pem, keeping its secret: how a device provisioned before "certs" moves to mqtts:// (with --broker URL, its broker too)',
    )
    .addOption(commonOptions.json());
  return addDataOption(cmd, s).action((id: string, flags: ProvisionFlags, command: Command) => {
    if (!isDeviceId(id))
      throw new CliError(
        `${JSON.stringify(id)} is not a valid device id: use 1-64 letters, digits, "-" or "_" (e.g. SPK-0001)`,
      );
    const dataDir = resolveDataDir(flags);
    const out = path.resolve(flags.out ?? `${id}.json`);
    if (flags.updateCa) {
      if (flags.force)
        throw new CliError(
          '--update-ca keeps the secret and --force replaces it: pass one of them (--update-ca to move to TLS)',
        );
      const brokerGiven = command.getOptionValueSource('broker') !== 'default';
      for (const line of updateCa(id, out, dataDir, brokerGiven ? flags.broker : null, Boolean(flags.json)))
        ctx.print(line);
      return;
    }
    // Made here if the broker has not started yet: a device config always names whom to trust.
    const backendPublicKey = loadOrCreateBackendKeys(brokerDir(dataDir)).publicKeyPem;
    const device = provisionInRegistry(dataDir, id, Boolean(flags.force), () => {
      // Before the registry gets a device whose config could not be written anywhere.
      const folder = path.dirname(out);
      if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory())
        throw new CliError(
          `--out ${out}: the folder ${folder} does not exist: create it, or choose another file with --out FILE`,
        );
      if (fs.existsSync(out) && !flags.force)
        throw new CliError(`${out} already exists: choose another file with --out FILE, or pass --force to replace it`);
    });
    const ca = readCaCertificate(dataDir);
    const config: DeviceConfigFile = {
      id,
      broker: flags.broker,
      username: device.username,
      password: device.password,
      backendPublicKey,
      ...(ca !== null && { ca }),
    };
    try {
      writeSecretFile(out, `${JSON.stringify(config, null, 2)}\n`);
    } catch (err) {
      throw new CliError(
        `${id} is recorded, but its config could not be written to ${out} (${(err as Error).message}): run again with --force --out FILE`,
        EXIT.FAILURE,
      );
    }
    for (const line of report(device, out, dataDir, flags, backendPublicKey !== null, ca !== null)) ctx.print(line);
  });
}

/**
 * Gives an existing device config the data directory's CA (and a new broker URL, if one was
 * given), keeping everything else, above all the secret: the registry is not touched, so the
 * device connects as before, now able to check the broker's certificate.
 */
function updateCa(id: string, out: string, dataDir: string, broker: string | null, json: boolean): string[] {
  const ca = readCaCertificate(dataDir);
  if (ca === null)
    throw new CliError(
      `no CA in ${tlsFiles(dataDir).ca}: make one with "npx payspeaker certs --data ${dataDir}" (then start the broker with --tls), or point --data at the broker's data directory`,
    );
  if (!fs.existsSync(out))
    throw new CliError(
      `no device config at ${out}: pass the one "provision ${id}" wrote with --out FILE (--update-ca rewrites an existing config; without it, provision makes a new one)`,
    );
  const config = loadDeviceConfig(out);
  if (config.id !== id)
    throw new CliError(`${out} is the config of ${config.id}, not ${id}: pass ${id}'s own config with --out FILE`);
  let raw: Record<string, unknown>;
  try {
    // The file as written, so fields this version does not know survive the rewrite.
    raw = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`cannot read ${out}: ${(err as Error).message}`);
  }
  const changedCa = raw.ca !== ca;
  const updated = { ...raw, ...(broker !== null && { broker }), ca };
  try {
    writeSecretFile(out, `${JSON.stringify(updated, null, 2)}\n`);
  } catch (err) {
    throw new CliError(`cannot write ${out}: ${(err as Error).message}`, EXIT.FAILURE);
  }
  if (json)
    return [
      JSON.stringify({
        event: 'ca-updated',
        id,
        file: out,
        broker: updated.broker,
        ca: tlsFiles(dataDir).ca,
        changed: changedCa,
      }),
    ];
  return [
    `${changedCa ? 'updated' : 'kept'} the CA in ${out}: ${id} trusts the broker certificate signed by ${tlsFiles(dataDir).ca}; its secret is unchanged`,
    ...(broker !== null ? [`its broker is now ${broker}`] : []),
    `next: npx payspeaker device --config ${path.relative(process.cwd(), out) || out}${broker === null ? ' --broker mqtts://HOST:8883' : ''}`,
  ];
}

/** What the user reads: where the secret went, and that it is one. Never the secret itself. */
function report(
  device: Provisioned,
  out: string,
  dataDir: string,
  flags: ProvisionFlags,
  hasKey: boolean,
  hasCa: boolean,
): string[] {
  if (flags.json)
    return [
      JSON.stringify({
        event: 'provisioned',
        id: device.id,
        file: out,
        broker: flags.broker,
        rotated: device.rotated,
        backendPublicKey: hasKey,
        ca: hasCa,
      }),
    ];
  return [
    `${device.rotated ? 'provisioned again (new secret)' : 'provisioned'} ${device.id} in ${registryFile(dataDir)}`,
    `wrote ${out} (mode 0600): it holds the device's secret — give it to that device only, never commit it`,
    ...(hasCa
      ? [`the device trusts the broker certificate signed by ${tlsFiles(dataDir).ca} (for mqtts:// and wss://)`]
      : []),
  ];
}

/** Records the device once every check passed (`checkOutput` last), so a refusal changes nothing. */
function provisionInRegistry(dataDir: string, id: string, force: boolean, checkOutput: () => void): Provisioned {
  return withRegistry(dataDir, (registry) => {
    try {
      checkProvisionable(registry, id, force);
      checkOutput();
      return provisionDevice(registry, id, { force });
    } catch (err) {
      if (err instanceof ProvisioningError) throw new CliError(err.message);
      throw err;
    }
  });
}

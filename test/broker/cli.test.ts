/**
 * `provision`, `devices` and `revoke` as a user meets them: the real commands, real registry
 * and real files; in this process through commander (exit codes, messages), and as
 * `node bin/payspeaker.js`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Command, CommanderError } from 'commander';
import { provisionCommand, type DeviceConfigFile } from '../../tools/cli/commands/provision.ts';
import { devicesCommand } from '../../tools/cli/commands/devices.ts';
import { revokeCommand } from '../../tools/cli/commands/revoke.ts';
import { CliError } from '../../tools/cli/exit-codes.ts';
import type { CliContext } from '../../tools/cli/context.ts';
import { silentLogger } from '../../src/log.ts';
import { openRegistry } from '../../broker/registry.ts';
import { verifySecret } from '../../broker/credentials.ts';
import { backendPublicKeyFile, brokerDir } from '../../broker/data-dir.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { runCli } from '../support/cli.ts';
import { connected, end, startSecureBroker, tempDataDir } from './helpers.ts';

/** Runs one command in-process; resolves with its stdout lines and the exit code main() would give. */
async function run(args: string[]): Promise<{ code: number; out: string[]; error: string }> {
  const out: string[] = [];
  const ctx: CliContext = { settings: {}, configFile: null, print: (l) => out.push(l), logger: () => silentLogger };
  const program = new Command('payspeaker').exitOverride();
  for (const make of [provisionCommand, devicesCommand, revokeCommand]) program.addCommand(make(ctx).exitOverride());
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out, error: '' };
  } catch (err) {
    if (err instanceof CliError) return { code: err.exitCode, out, error: err.message };
    if (err instanceof CommanderError) return { code: 2, out, error: err.message };
    throw err;
  }
}

function readConfig(file: string): DeviceConfigFile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as DeviceConfigFile;
}

describe('provision', () => {
  it('writes a private device config whose credentials a secure broker accepts', async () => {
    const dataDir = tempDataDir();
    const out = path.join(dataDir, 'SPK-0001.json');
    const r = await run([
      'provision',
      'SPK-0001',
      '--data',
      dataDir,
      '--out',
      out,
      '--broker',
      'mqtt://speakers.example:1883',
    ]);
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toMatch(/wrote .*SPK-0001\.json \(mode 0600\): it holds the device's secret/);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    const config = readConfig(out);
    // No broker has run yet: provisioning makes the backend's key, so the device knows whom to trust.
    expect(config).toEqual({
      id: 'SPK-0001',
      broker: 'mqtt://speakers.example:1883',
      username: 'SPK-0001',
      password: expect.any(String),
      backendPublicKey: fs.readFileSync(backendPublicKeyFile(dataDir), 'utf8'),
    });
    expect(config.backendPublicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);

    const broker = await startSecureBroker(dataDir);
    const device = await connected(broker.mqttUrl, config.username, config.password);
    await end(device);
    await broker.close();
  });

  it("copies the broker's existing backend public key, and reports in JSON without the secret", async () => {
    const dataDir = tempDataDir();
    const pem = loadOrCreateBackendKeys(brokerDir(dataDir)).publicKeyPem; // as the broker's first start does
    const out = path.join(dataDir, 'a.json');
    const r = await run(['provision', 'SPK-0002', '--data', dataDir, '--out', out, '--json']);
    expect(r.code).toBe(0);
    const event = JSON.parse(r.out[0]!) as Record<string, unknown>;
    expect(event).toMatchObject({
      event: 'provisioned',
      id: 'SPK-0002',
      file: out,
      rotated: false,
      backendPublicKey: true,
    });
    expect(r.out.join('\n')).not.toContain(readConfig(out).password);
    expect(readConfig(out).backendPublicKey).toBe(pem);
  });

  it('refuses a second provisioning without --force, and --force rotates the secret', async () => {
    const dataDir = tempDataDir();
    const out = path.join(dataDir, 'SPK-0001.json');
    await run(['provision', 'SPK-0001', '--data', dataDir, '--out', out]);
    const first = readConfig(out).password;
    const again = await run(['provision', 'SPK-0001', '--data', dataDir, '--out', path.join(dataDir, 'other.json')]);
    expect(again).toMatchObject({
      code: 2,
      error: expect.stringMatching(/SPK-0001 is already provisioned .*pass --force/),
    });
    expect(fs.existsSync(path.join(dataDir, 'other.json'))).toBe(false);
    const exists = await run(['provision', 'SPK-0003', '--data', dataDir, '--out', out]);
    expect(exists).toMatchObject({
      code: 2,
      error: expect.stringMatching(/SPK-0001\.json already exists: choose another file with --out FILE/),
    });

    const forced = await run(['provision', 'SPK-0001', '--data', dataDir, '--out', out, '--force']);
    expect(forced.out[0]).toMatch(/provisioned again \(new secret\) SPK-0001/);
    const second = readConfig(out).password;
    expect(second).not.toBe(first);
    const registry = openRegistry(dataDir);
    expect(verifySecret(second, registry.find('SPK-0001')!)).toBe(true);
    expect(verifySecret(first, registry.find('SPK-0001')!)).toBe(false);
    registry.close();
  });

  it('refuses bad and reserved ids before touching anything', async () => {
    const dataDir = tempDataDir();
    expect(await run(['provision', 'SPK/#', '--data', dataDir])).toMatchObject({
      code: 2,
      error: expect.stringMatching(/"SPK\/#" is not a valid device id/),
    });
    expect(await run(['provision', 'backend', '--data', dataDir, '--out', path.join(dataDir, 'b.json')])).toMatchObject(
      {
        code: 2,
        error: expect.stringMatching(/reserved for the backend/),
      },
    );
  });
});

describe('devices and revoke', () => {
  it('list devices with status and presence, and revoke one', async () => {
    const dataDir = tempDataDir();
    expect((await run(['devices', '--data', dataDir])).out[0]).toMatch(
      /no devices in .*registry\.sqlite: add one with "npx payspeaker provision SPK-0001"/,
    );
    for (const id of ['SPK-0002', 'SPK-0001'])
      await run(['provision', id, '--data', dataDir, '--out', path.join(dataDir, `${id}.json`)]);
    const broker = await startSecureBroker(dataDir);
    const device = await connected(
      broker.mqttUrl,
      'SPK-0001',
      readConfig(path.join(dataDir, 'SPK-0001.json')).password,
    );

    const table = (await run(['devices', '--data', dataDir])).out;
    expect(table[0]).toMatch(/^ID\s+STATUS\s+ONLINE\s+LAST SEEN$/);
    expect(table[1]).toMatch(/^SPK-0001\s+active\s+yes\s+\d{4}-\d\d-\d\dT/);
    expect(table[2]).toMatch(/^SPK-0002\s+active\s+no\s+never$/);
    expect(table).toHaveLength(3); // the backend's identity is not a device

    const revoked = await run(['revoke', 'SPK-0001', '--data', dataDir]);
    expect(revoked.out[0]).toMatch(/revoked SPK-0001: a running broker drops its connection/);
    const json = (await run(['devices', '--data', dataDir, '--json'])).out.map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    expect(json[0]).toMatchObject({ id: 'SPK-0001', status: 'revoked', revokedAt: expect.any(Number) });
    expect(JSON.stringify(json)).not.toMatch(/salt|secretHash/);
    expect((await run(['revoke', 'SPK-0001', '--data', dataDir])).out[0]).toMatch(/SPK-0001 was already revoked/);
    await end(device);
    await broker.close();
  });

  it('refuse unknown devices and the backend', async () => {
    const dataDir = tempDataDir();
    expect(await run(['revoke', 'SPK-0404', '--data', dataDir])).toMatchObject({
      code: 2,
      error: expect.stringMatching(/"SPK-0404" is not provisioned in .*"npx payspeaker devices"/),
    });
    expect(await run(['revoke', 'backend', '--data', dataDir])).toMatchObject({
      code: 2,
      error: expect.stringMatching(/not a device/),
    });
  });
});

describe('as a child process', () => {
  it('provision, devices, revoke', async () => {
    const dataDir = tempDataDir();
    const env = { PAYSPEAKER_DATA_DIR: dataDir };
    const p = await runCli(['provision', 'SPK-0001', '--json'], { env, cwd: dataDir });
    expect(p.code).toBe(0);
    expect(readConfig(path.join(dataDir, 'SPK-0001.json')).id).toBe('SPK-0001');
    const twice = await runCli(['provision', 'SPK-0001'], { env, cwd: dataDir });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/already provisioned/);
    expect((await runCli(['devices'], { env })).stdout).toMatch(/SPK-0001\s+active\s+no\s+never/);
    expect((await runCli(['revoke', 'SPK-0001'], { env })).code).toBe(0);
    expect((await runCli(['devices', '--json'], { env })).stdout).toMatch(/"status":"revoked"/);
  });
});

/**
 * Errors in the settings file (./payspeaker.config.json, --settings FILE) and in the data
 * directory, as a user meets them: named by the file and its key, never as a flag nobody typed,
 * and never hiding behind --help or an empty device list.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cleanEnv, collect, runCli, type RunResult } from '../support/cli.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-settings-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) {
    fs.chmodSync(dir, 0o755);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A folder holding ./payspeaker.config.json with `content`, to run the CLI in. */
function withSettings(content: string): string {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'payspeaker.config.json'), content);
  return dir;
}

/**
 * Runs the CLI as an unprivileged user when the tests run as root, since root reads a file
 * whatever its mode and a permission error could not happen otherwise.
 */
function runUnprivileged(args: string[], cwd: string): Promise<RunResult> {
  const asRoot = process.getuid?.() === 0;
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: cleanEnv({ HOME: cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot && { uid: 65534, gid: 65534 }),
  });
  return collect(child);
}

describe('the settings file', () => {
  it('does not break --help or --version when it is broken', async () => {
    const cwd = withSettings('{ not json');
    const help = await runCli(['--help'], { cwd });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: payspeaker/);
    expect(help.stderr).toBe('');
    expect((await runCli(['pay', '--help'], { cwd })).code).toBe(0);
    expect((await runCli(['--version'], { cwd })).code).toBe(0);
    // …but a command that would run on those settings says what is wrong with them.
    const devices = await runCli(['devices'], { cwd });
    expect(devices.code).toBe(2);
    expect(devices.stderr).toMatch(/^payspeaker: config file payspeaker\.config\.json is not valid JSON/);
  });

  it("names the file's key and value, not a flag nobody typed", async () => {
    const cwd = withSettings(JSON.stringify({ timeout: 'forever' }));
    const pay = await runCli(['pay', '5', '--device', 'SPK-0001'], { cwd });
    expect(pay.code).toBe(2);
    expect(pay.stderr).toBe('payspeaker: payspeaker.config.json: "timeout" is "forever", not a duration like 30s\n');

    const port = await runCli(['broker'], { cwd: withSettings(JSON.stringify({ port: 'abc' })) });
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/"port" is "abc", not a port number from 0 to 65535/);

    const api = await runCli(['devices'], { cwd: withSettings(JSON.stringify({ api: 'notaurl' })) });
    expect(api.code).toBe(2);
    expect(api.stderr).toMatch(/"api" is "notaurl", not a URL like http:\/\/127\.0\.0\.1:8081/);

    const level = await runCli(['devices'], { cwd: withSettings(JSON.stringify({ logLevel: 'loud' })) });
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/"logLevel" is "loud", not one of fatal, error, warn, info, debug, trace, silent/);

    const list = await runCli(['devices'], { cwd: withSettings('[1, 2]') });
    expect(list.code).toBe(2);
    expect(list.stderr).toMatch(/the file must hold one JSON object of settings/);
  });

  it('says a file it cannot read is unreadable, not invalid JSON', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'settings.json');
    fs.writeFileSync(file, '{}');
    fs.chmodSync(file, 0o000);
    fs.chmodSync(dir, 0o755);
    const denied = await runUnprivileged(['--settings', file, 'devices'], dir);
    expect(denied.stderr).toBe(`payspeaker: cannot read settings.json: permission denied\n`);
    expect(denied.code).toBe(2);

    const folder = await runCli(['--settings', dir, 'devices']);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toBe(`payspeaker: cannot read ${dir}: it is a directory\n`);
  });
});

describe('the data directory', () => {
  it('reports an unreadable one as an error, not as "no devices"', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    fs.mkdirSync(path.join(data, 'broker'), { recursive: true });
    fs.chmodSync(data, 0o700); // the unprivileged user may not look inside
    fs.chmodSync(dir, 0o755);
    const devices = await runUnprivileged(['devices', '--data', data], dir);
    expect(devices.stdout).toBe('');
    expect(devices.stderr).toBe(
      `payspeaker: cannot read ${path.join(data, 'broker', 'registry.sqlite')}: permission denied\n`,
    );
    expect(devices.code).toBe(2);
  });
});

/** The command line as a user meets it: help, errors, exit codes, settings. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../support/cli.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { VERSION } from '../../src/version.ts';

describe('payspeaker CLI', () => {
  it('prints help for the program and every command', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['demo', 'broker', 'device', 'pay']) expect(top.stdout).toContain(command);
    expect(top.stdout).toMatch(/Exit codes: 0 ok/);
    const expectations: Record<string, string[]> = {
      broker: ['--port', '--ws-port', '--host', '--json'],
      device: ['--id', '--broker', '--lang', '--audio', '--json', 'PAYSPEAKER_DEVICE'],
      pay: ['<amount>', '--device', '--currency', '--channel', '--refund', '--id', '--timeout', '--json'],
      demo: ['--lang', '--audio'],
    };
    for (const [command, flags] of Object.entries(expectations)) {
      const help = await runCli([command, '--help']);
      expect(help.code, command).toBe(0);
      for (const flag of flags) expect(help.stdout, `${command} --help`).toContain(flag);
    }
  });

  it('reports its version, equal to package.json', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    expect((await runCli(['--version'])).stdout.trim()).toBe(pkg.version);
  });

  it('exits 2 with a hint on an unknown command or option', async () => {
    const unknown = await runCli(['speak']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'speak'/);
    const badOption = await runCli(['device', '--insecure', '--id', 'SPK-1', '--lang', 'fr-FR']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/'fr-FR' is invalid.*zh-CN/);
  });

  it('refuses bad device tuning values with the flag and the value', async () => {
    const depth = await runCli(['device', '--insecure', '--id', 'SPK-1', '--burst-depth', 'many']);
    expect(depth.code).toBe(2);
    expect(depth.stderr).toMatch(/--burst-depth must be a whole number of at least 1, got "many"/);
    const stale = await runCli([
      'device',
      '--insecure',
      '--id',
      'SPK-1',
      '--stale-after',
      'later',
      '--broker',
      'mqtt://127.0.0.1:1',
    ]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/--stale-after "later" is not a duration/);
  });

  it('asks for a device id, and refuses one that would break the topic tree', async () => {
    const noConfig = await runCli(['device']);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toMatch(
      /pass --config SPK-0001\.json \(from "npx payspeaker provision SPK-0001"\), or --insecure/,
    );
    const missing = await runCli(['device', '--insecure']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/pass --id SPK-0001/);
    const wildcard = await runCli(['device', '--insecure', '--id', 'SPK/#']);
    expect(wildcard.code).toBe(2);
    expect(wildcard.stderr).toMatch(/"SPK\/#" is not a valid device id/);
  });

  it('takes settings from the config file, overridden by env vars, overridden by flags', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-config-'));
    fs.writeFileSync(
      path.join(dir, 'payspeaker.config.json'),
      JSON.stringify({ device: 'SPK-FROM-FILE', broker: 'mqtt://127.0.0.1:1', timeout: '1s' }),
    );
    const fromFile = await runCli(['pay', '--direct', '--insecure', '1'], { cwd: dir });
    expect(fromFile.code).toBe(5);
    expect(fromFile.stderr).toContain('mqtt://127.0.0.1:1');
    const fromEnv = await runCli(['pay', '--direct', '--insecure', '1'], {
      cwd: dir,
      env: { PAYSPEAKER_BROKER: 'mqtt://127.0.0.1:2' },
    });
    expect(fromEnv.stderr).toContain('mqtt://127.0.0.1:2');
    const fromFlag = await runCli(['pay', '--direct', '--insecure', '1', '--broker', 'mqtt://127.0.0.1:3'], {
      cwd: dir,
      env: { PAYSPEAKER_BROKER: 'mqtt://127.0.0.1:2' },
    });
    expect(fromFlag.stderr).toContain('mqtt://127.0.0.1:3');
    fs.rmSync(dir, { recursive: true });
  });

  it('names the bad setting in a broken config file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-config-'));
    const file = path.join(dir, 'custom.json');
    fs.writeFileSync(file, JSON.stringify({ brokr: 'mqtt://x' }));
    const typo = await runCli(['--settings', file, 'pay', '--direct', '1']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/custom\.json.*brokr.*known settings: broker/);
    fs.writeFileSync(file, '{ not json');
    const broken = await runCli(['pay', '--direct', '--insecure', '1'], { env: { PAYSPEAKER_CONFIG: file } });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/custom\.json is not valid JSON/);
    const missing = await runCli(['--settings', path.join(dir, 'nope.json'), 'pay', '--direct', '1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json does not exist/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('payspeaker broker', () => {
  it('listens on TCP and WebSocket, carries messages, and stops cleanly on SIGTERM', async () => {
    const broker = new CliProcess(['broker', '--port', '0', '--ws-port', '0', '--insecure', '--json']);
    const listening = await broker.waitForEvent<{ mqtt: string; ws: string }>((e) => e.event === 'listening');
    expect(listening.mqtt).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);

    const overWs = await connectOnce(listening.ws, { clientId: 'test-ws' });
    const overTcp = await connectOnce(listening.mqtt, { clientId: 'test-tcp' });
    await overWs.subscribeAsync('t/hello', { qos: 1 });
    const got = new Promise<string>((resolve) => overWs.on('message', (_t, p) => resolve(p.toString())));
    await overTcp.publishAsync('t/hello', 'from tcp', { qos: 1 });
    expect(await got).toBe('from tcp');
    await Promise.all([endClient(overWs), endClient(overTcp)]);

    expect(await broker.stop('SIGTERM')).toBe(0);
  });

  it('says which port is taken', async () => {
    const first = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--insecure', '--json']);
    const { mqtt } = await first.waitForEvent<{ mqtt: string }>((e) => e.event === 'listening');
    const port = new URL(mqtt).port;
    const second = await runCli(['broker', '--port', port, '--no-ws-port', '--insecure']);
    expect(second.code).toBe(7); // the README's "could not start"
    expect(second.stderr).toMatch(new RegExp(`MQTT port ${port} on 127.0.0.1 is already in use .*--port`));
    expect(await first.stop()).toBe(0);
  });
});

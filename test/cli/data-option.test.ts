/**
 * One name for the data directory (issue 14, item 6): `--data DIR` on every command, `device`
 * included; `--data-dir` still works everywhere, with a one-line deprecation warning. And
 * `device --id X` without a config suggests X's own config, not SPK-0001's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { CliProcess, runCli } from '../support/cli.ts';

const WARNING = /warning: --data-dir is deprecated, use --data /;
let dir: string;
let broker: RunningBroker;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-data-option-'));
  broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null, security: { mode: 'insecure' } });
  const r = await runCli(['provision', 'SPK-DATA-1', '--data', dir, '--out', path.join(dir, 'SPK-DATA-1.json')]);
  expect(r.code, r.stderr).toBe(0);
}, 30_000);

afterAll(async () => {
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('--data DIR everywhere', () => {
  it('devices --data lists the registry silently; --data-dir does the same with one warning line', async () => {
    const plain = await runCli(['devices', '--data', dir]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/SPK-DATA-1/);
    expect(plain.stderr).toBe('');
    const old = await runCli(['devices', '--data-dir', dir]);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stdout).toBe(plain.stdout);
    expect(old.stderr.trim().split('\n')).toEqual([expect.stringMatching(WARNING)]);
  });

  it('every command that takes a data directory calls it --data in its help, never --data-dir', async () => {
    for (const command of ['broker', 'provision', 'devices', 'revoke', 'certs', 'pay', 'command', 'ota', 'device']) {
      const help = await runCli([command, '--help']);
      expect(help.stdout, command).toMatch(/--data <dir>/);
      expect(help.stdout, command).not.toMatch(/--data-dir/);
    }
  }, 60_000);

  it('device --data DIR keeps its NVS under DIR; device --data-dir still works, with the warning', async () => {
    for (const flag of ['--data', '--data-dir']) {
      const data = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-data-device-'));
      try {
        const id = 'SPK-DATA-2';
        const device = new CliProcess([
          'device',
          '--insecure',
          '--id',
          id,
          '--broker',
          broker.mqttUrl,
          flag,
          data,
          '--audio',
          'none',
          '--json',
        ]);
        await device.waitForEvent((e) => e.event === 'online');
        expect(await device.stop()).toBe(0);
        // Its NVS (DIR/devices/ID/nvs.json) lives here; the file itself is written on the first change.
        expect(fs.existsSync(path.join(data, 'devices', id))).toBe(true);
        if (flag === '--data-dir') expect(device.stderr).toMatch(WARNING);
        else expect(device.stderr).not.toMatch(WARNING);
      } finally {
        fs.rmSync(data, { recursive: true, force: true });
      }
    }
  }, 60_000);

  it("device --id SPK-0004 without --config suggests SPK-0004's config, not SPK-0001's", async () => {
    const r = await runCli(['device', '--id', 'SPK-0004', '--data', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pass --config SPK-0004\.json \(from "npx payspeaker provision SPK-0004"\)/);
    expect(r.stderr).not.toMatch(/SPK-0001/);
  });
});

/**
 * Issue 14, items 1, 2 and 8, with the real binary against a real `broker --tls`: `command` and
 * `ota` reach an mqtts:// broker with the CA found in --data (or given with --ca); a device the
 * registry has never heard of is refused at once, and one that is offline is said at once,
 * instead of waiting out --timeout; a device provisioned before `certs` moves to mqtts:// with
 * `provision --update-ca` (or `device --ca`) and keeps its secret.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevelopmentCerts, tlsFiles } from '../../broker/tls.ts';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { signRelease } from '../../src/firmware/image.ts';
import { CliProcess, runCli } from '../support/cli.ts';

const ONLINE = 'SPK-TLS-ON';
const OFFLINE = 'SPK-TLS-OFF';
const OLD = 'SPK-TLS-OLD';
let dir: string;
let otherDir: string;
let broker: CliProcess;
let device: CliProcess;
let mqtts: string;
let api: string;
let release: string;
/** How long the CLI takes to start and do nothing (`--version`): what "at once" is measured against. */
let startupMs: number;

const config = (id: string) => path.join(dir, `${id}.json`);
const readConfig = (id: string) => JSON.parse(fs.readFileSync(config(id), 'utf8')) as Record<string, string>;
const cli = (args: string[], timeoutMs?: number) => runCli(args, { timeoutMs });
const timed = async (args: string[]) => {
  const started = Date.now();
  const r = await cli(args);
  return { ...r, elapsed: Date.now() - started };
};

/** A small release signed with the backend key: enough for the speaker to look at it (and refuse it). */
function fakeRelease(): string {
  const out = path.join(dir, 'firmware');
  fs.mkdirSync(out, { recursive: true });
  const version = '9.9.9';
  const tarball = path.join(out, `payspeaker-firmware-${version}.tar.gz`);
  fs.writeFileSync(tarball, Buffer.alloc(4096, 7));
  const sha256 = createHash('sha256').update(fs.readFileSync(tarball)).digest('hex');
  const signature = signRelease(version, sha256, loadBackendPrivateKey(brokerDir(dir))!);
  const file = path.join(out, `payspeaker-firmware-${version}.json`);
  const json = { version, file: path.basename(tarball), sha256, size: 4096, signature };
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-cmd-'));
  otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-cmd-other-'));
  const version = Date.now();
  expect((await cli(['--version'])).code).toBe(0);
  startupMs = Date.now() - version;
  // Provisioned before there is a CA: its config has none (the case of issue 14, item 2).
  const old = await cli(['provision', OLD, '--data', dir, '--out', config(OLD)]);
  expect(old.code, old.stderr).toBe(0);
  await createDevelopmentCerts(dir, { hosts: ['127.0.0.1', 'localhost'] });
  await createDevelopmentCerts(otherDir, { hosts: ['127.0.0.1', 'localhost'] });
  broker = new CliProcess(
    ['broker', '--port', '0', '--no-ws-port', '--tls', '--tls-port', '0', '--no-wss-port', '--data', dir, '--json'],
    { PAYSPEAKER_HTTP_PORT: '0' },
  );
  const listening = await broker.waitForEvent<{ mqtts: string; http: string }>((e) => e.event === 'listening');
  mqtts = listening.mqtts;
  api = listening.http;
  for (const id of [ONLINE, OFFLINE]) {
    const r = await cli(['provision', id, '--data', dir, '--broker', mqtts, '--out', config(id)]);
    expect(r.code, r.stderr).toBe(0);
  }
  // OFFLINE comes online once and says goodbye: its retained state is offline, the registry has its last seen.
  const once = new CliProcess(['device', '--config', config(OFFLINE), '--audio', 'none', '--json']);
  await once.waitForEvent((e) => e.event === 'online');
  expect(await once.stop()).toBe(0);
  device = new CliProcess(['device', '--config', config(ONLINE), '--audio', 'none', '--json']);
  await device.waitForEvent((e) => e.event === 'online');
  release = fakeRelease();
}, 90_000);

afterAll(async () => {
  await device?.stop();
  await broker?.stop();
  for (const d of [dir, otherDir]) fs.rmSync(d, { recursive: true, force: true });
});

describe('command and ota over mqtts://', () => {
  it('command finds the CA in --data, or takes it from --ca', async () => {
    for (const extra of [[], ['--ca', tlsFiles(dir).ca]]) {
      const r = await cli([
        'command',
        'set-volume',
        '--value',
        '3',
        '--device',
        ONLINE,
        '--broker',
        mqtts,
        '--data',
        dir,
        '--json',
        ...extra,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, command: 'set-volume', volume: 3 });
    }
  }, 30_000);

  it('command with another CA is refused with the CA file named, exit 5, no stack trace', async () => {
    const wrong = tlsFiles(otherDir).ca;
    const r = await cli(['command', 'summary', '--device', ONLINE, '--broker', mqtts, '--data', dir, '--ca', wrong]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`the broker's certificate at ${mqtts} is not signed by the CA in ${wrong}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('ota uploads and sends over mqtts with the CA from --data or --ca: the unflashed speaker answers (and refuses)', async () => {
    for (const extra of [[], ['--ca', tlsFiles(dir).ca]]) {
      const r = await cli(
        [
          'ota',
          ONLINE,
          '--release',
          release,
          '--api',
          api,
          '--broker',
          mqtts,
          '--data',
          dir,
          '--timeout',
          '20s',
          ...extra,
        ],
        30_000,
      );
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/uploading payspeaker-firmware-9\.9\.9\.tar\.gz/);
      expect(r.stderr).toMatch(new RegExp(`${ONLINE} refused the update: .*does not run from an A/B install`));
    }
  }, 60_000);
});

describe('what the CLI already knows, said at once', () => {
  it('a device the registry has never heard of: command, pay --direct and ota refuse it, exit 2', async () => {
    const runs = [
      ['command', 'summary', '--device', 'SPK-NOPE', '--timeout', '30s'],
      ['pay', '--direct', '1', '--device', 'SPK-NOPE', '--timeout', '30s'],
      ['ota', 'SPK-NOPE', '--release', release, '--api', api, '--timeout', '3m'],
    ];
    for (const args of runs) {
      const r = await timed([...args, '--broker', mqtts, '--data', dir]);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(
        /device SPK-NOPE is not provisioned in .*registry\.sqlite: .*npx payspeaker provision SPK-NOPE/,
      );
      expect(r.stderr).not.toMatch(/uploading/);
      // Measured beside the CLI's own start-up, which alone takes seconds on a busy machine.
      expect(r.elapsed).toBeLessThan(Math.max(3000, startupMs + 1500));
    }
  }, 60_000);

  it('an offline device: command and ota refuse at once (exit 4), pay --direct says so and waits for the ack', async () => {
    const since = /is offline since \d\d:\d\d/;
    const command = await timed([
      'command',
      'summary',
      '--device',
      OFFLINE,
      '--broker',
      mqtts,
      '--data',
      dir,
      '--timeout',
      '30s',
    ]);
    expect(command.code, command.stderr).toBe(4);
    expect(command.stderr).toMatch(since);
    expect(command.stderr).toMatch(/the command is not sent/);
    expect(command.elapsed).toBeLessThan(Math.max(3000, startupMs + 1500));

    const ota = await timed(['ota', OFFLINE, '--release', release, '--api', api, '--broker', mqtts, '--data', dir]);
    expect(ota.code, ota.stderr).toBe(4);
    expect(ota.stderr).toMatch(/nothing uploaded or sent/);
    expect(ota.stderr).not.toMatch(/uploading/);

    const pay = await cli([
      'pay',
      '--direct',
      '1',
      '--device',
      OFFLINE,
      '--broker',
      mqtts,
      '--data',
      dir,
      '--timeout',
      '1s',
    ]);
    expect(pay.code).toBe(4);
    expect(pay.stderr).toMatch(
      /SPK-TLS-OFF is offline since \d\d:\d\d .*: the payment waits in its session on the broker/,
    );
  }, 60_000);
});

describe('a device provisioned before certs moves to mqtts://', () => {
  it('device --ca FILE connects with the old config; without it, each certificate error is logged once', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-cmd-empty-'));
    try {
      // No CA anywhere (config, --ca, --data): the system CAs refuse the development certificate.
      const lost = new CliProcess([
        'device',
        '--config',
        config(OLD),
        '--broker',
        mqtts,
        '--data',
        empty,
        '--audio',
        'none',
        '--json',
      ]);
      const deadline = Date.now() + 15_000;
      while ((lost.stderr.match(/retrying/g) ?? []).length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      await lost.stop();
      // MQTT.js reports a TLS error twice (the same object): one log line per attempt, not two.
      const errors = lost.stderr.split('\n').filter((l) => l.includes('is not signed by'));
      const sequence = lost.stderr
        .split('\n')
        .filter((l) => l.includes('is not signed by') || l.includes('retrying'))
        .map((l) => (l.includes('retrying') ? 'R' : 'E'))
        .join('');
      expect(sequence, lost.stderr).toMatch(/^ERER/);
      expect(sequence).not.toContain('EE');
      expect(errors[0]).toMatch(/not signed by the system's trusted CAs .*pass --ca FILE/);

      const withCa = new CliProcess([
        'device',
        '--config',
        config(OLD),
        '--broker',
        mqtts,
        '--data',
        empty,
        '--ca',
        tlsFiles(dir).ca,
        '--audio',
        'none',
        '--json',
      ]);
      await withCa.waitForEvent((e) => e.event === 'online');
      expect(await withCa.stop()).toBe(0);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  }, 60_000);

  it('provision --update-ca writes the CA (and the broker) into the config, keeps the secret, and the device connects', async () => {
    const before = readConfig(OLD);
    expect(before.ca).toBeUndefined();
    const r = await cli(['provision', OLD, '--update-ca', '--broker', mqtts, '--data', dir, '--out', config(OLD)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/its secret is unchanged/);
    const after = readConfig(OLD);
    expect(after).toMatchObject({ id: OLD, password: before.password, username: before.username, broker: mqtts });
    expect(after.ca).toBe(fs.readFileSync(tlsFiles(dir).ca, 'utf8'));
    expect(fs.statSync(config(OLD)).mode & 0o777).toBe(0o600);

    // The old password still opens the door: the registry was not touched.
    const moved = new CliProcess(['device', '--config', config(OLD), '--audio', 'none', '--json']);
    await moved.waitForEvent((e) => e.event === 'online');
    expect(await moved.stop()).toBe(0);

    const both = await cli(['provision', OLD, '--update-ca', '--force', '--data', dir, '--out', config(OLD)]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--update-ca keeps the secret and --force replaces it/);
  }, 60_000);
});

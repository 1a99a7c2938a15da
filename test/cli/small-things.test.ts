/**
 * Issue 14, item 11: the small things a person meets at the CLI, each through the real binary.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { BIN, cleanEnv, CliProcess, runCli } from '../support/cli.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import type { RunningBroker } from '../../broker/broker.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('payspeaker device on a terminal', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startTestBroker();
  });
  afterAll(() => broker.close());

  it('prints each payment once, and answers ? with the keys', { timeout: 60_000 }, async () => {
    // A real pseudo-terminal (util-linux's script), as panel.test.ts does.
    const command = `${process.execPath} ${BIN} device --insecure --id SPK-ONCE --broker ${broker.mqttUrl} --audio none --lang zh-CN`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...cleanEnv(), TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const plain = () => stripVTControlCharacters(screen);
    await until(() => plain().includes('● online'), `the panel online; screen:\n${plain()}`, 30_000);

    const link = await DeviceLink.open(broker.mqttUrl, 'SPK-ONCE');
    const id = await link.pay(12_345);
    await until(() => link.ackFor(id)?.status === 'played', 'the ack');
    await until(() => plain().includes('last payment: 123.45 CNY'), 'the panel updated');
    expect(plain().split('微信收款一百二十三点四五元').length - 1).toBe(1);

    child.stdin.write('?');
    await until(
      () => plain().includes("keys: + volume up, - volume down, r replay, s today's summary"),
      'the key help',
    );
    child.stdin.write('x');
    await until(() => plain().includes('"x" is not a key of this speaker'), 'the unknown key answered');

    child.stdin.write('q');
    expect(await exited).toBe(0);
    await link.close();
  });
});

describe('voicepack build --engine say', () => {
  it.runIf(process.platform === 'linux')(
    'for zh-CN names its own flag, --engine, not device --voice-engine',
    { timeout: 30_000 },
    async () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-say-'));
      try {
        const r = await runCli(['voicepack', 'build', '--lang', 'zh-CN', '--engine', 'say', '--out', out]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain('--engine say cannot record the zh-CN voice pack');
        expect(r.stderr).toContain('use --engine espeak');
        expect(r.stderr).not.toContain('--voice-engine');
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    },
  );
});

describe('broker on a network address', () => {
  const start = async (host: string) => {
    const broker = new CliProcess([
      'broker',
      '--insecure',
      '--host',
      host,
      '--port',
      '0',
      '--no-ws-port',
      '--http-port',
      '0',
    ]);
    await broker.waitForLine(/broker listening on/);
    return broker;
  };

  it(
    'warns once that plain MQTT and the HTTP API are unencrypted on the network, and what to do',
    { timeout: 30_000 },
    async () => {
      const broker = await start('0.0.0.0');
      try {
        await until(() => /reachable from the network unencrypted/.test(broker.stderr), 'the warning', 5000);
        const warnings = broker.stderr.split('\n').filter((l) => l.includes('reachable from the network unencrypted'));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain('0.0.0.0, every network interface');
        expect(warnings[0]).toContain('MQTT (mqtt://');
        expect(warnings[0]).toContain('the HTTP API (http://');
        expect(warnings[0]).toContain('--tls --tls-only');
        expect(warnings[0]).toContain('npx payspeaker certs');
      } finally {
        await broker.stop();
      }
    },
  );

  it('says nothing of the kind on loopback', { timeout: 30_000 }, async () => {
    const broker = await start('127.0.0.1');
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(broker.stderr).not.toContain('unencrypted');
    } finally {
      await broker.stop();
    }
  });
});

describe('docs/SECURITY.md', () => {
  it('does not call signed notifications "not yet built" in its threat table', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/SECURITY.md'), 'utf8');
    const rows = doc.split('\n').filter((l) => l.startsWith('|'));
    const signed = rows.filter((r) => /signed notifications/i.test(r));
    expect(signed.length).toBeGreaterThan(0);
    for (const row of signed) expect(row).not.toMatch(/not (yet )?built|planned|todo/i);
  });
});

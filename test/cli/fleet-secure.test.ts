/**
 * `payspeaker fleet` against a secure broker, as a user runs it: a real `payspeaker broker
 * --tls` with its data directory, the fleet with `--data` over mqtts (provisioning its
 * speakers) and again over plain MQTT (reusing them); without --data the broker refuses it
 * with one line and exit 6. Reports are checked before the run and carry a header.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../support/cli.ts';
import { tempDataDir } from '../broker/helpers.ts';
import { VERSION } from '../../src/version.ts';

const SMALL = ['--devices', '6', '--rate', '10', '--duration', '1s', '--workers', '1'];

describe('payspeaker fleet --data (secure broker)', () => {
  const dir = tempDataDir();
  let broker: CliProcess;
  let urls: { mqtt: string; mqtts: string };

  beforeAll(async () => {
    expect((await runCli(['certs', '--data', dir])).code).toBe(0);
    broker = new CliProcess([
      'broker',
      ...['--data', dir, '--port', '0', '--no-ws-port', '--http-port', '0'],
      ...['--tls', '--tls-port', '0', '--no-wss-port', '--json'],
    ]);
    urls = await broker.waitForEvent<{ mqtt: string; mqtts: string }>((e) => e.event === 'listening');
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('without --data the broker refuses the fleet: one line, exit 6', async () => {
    const r = await runCli(['fleet', ...SMALL, '--broker', urls.mqtt]);
    expect(r.code).toBe(6);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/refused the connection \(CONNACK 4.*point --data at the broker's data directory/),
    ]);
  });

  it('with --data: provisions its speakers, signs with the backend key, over mqtts; a second run reuses them', async () => {
    const html = path.join(dir, 'secure.html');
    const r = await runCli(['fleet', ...SMALL, '--broker', urls.mqtts, '--data', dir, '--json', '--report', html], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, any>;
    expect(report.run).toMatchObject({ devices: 6, signed: true, broker: urls.mqtts });
    expect(report.loads[0]).toMatchObject({ sent: 10, heard: 10, lost: 0, duplicates: 0 });
    expect(report.devices).toMatchObject({ rejected: 0 });
    expect(r.stderr).toContain(`report written to ${html}`);
    expect(fs.statSync(path.join(dir, 'fleet', 'FLEET.json')).mode & 0o777).toBe(0o600);

    // The HTML report is ready for a ticket: when, what was typed, which version, which machine, pass or fail and why.
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toMatch(
      /<p class="banner pass"><strong>PASS<\/strong> — every payment was heard exactly once \(10 sent\)/,
    );
    expect(page).toMatch(/<th>date<\/th><td>\d{4}-\d\d-\d\dT/);
    expect(page).toContain(`<th>command</th><td>payspeaker fleet --devices 6`);
    expect(page).toContain(`--data ${dir}`);
    expect(page).toContain(`<th>payspeaker</th><td>${VERSION}</td>`);
    expect(page).toMatch(/<th>machine<\/th><td>.+, \d+ cores, [\d.]+ GB memory, Node v\d+/);

    const json = path.join(dir, 'again.json');
    const again = await runCli(['fleet', ...SMALL, '--broker', urls.mqtt, '--data', dir, '--report', json], {
      timeoutMs: 60_000,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`report written to ${json}`);
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, any>;
    expect(saved.header).toMatchObject({ version: VERSION, command: expect.stringContaining('fleet --devices 6') });
    expect(saved.verdict).toMatchObject({ ok: true });
    expect(saved.loads[0]).toMatchObject({ sent: 10, heard: 10 });
  }, 120_000);
});

describe('payspeaker fleet: what is checked before the run', () => {
  it.each([
    [['--report', '/nonexistent/r.html'], /--report \/nonexistent\/r\.html: the folder \/nonexistent does not exist/],
    [['--report', 'out.pdf'], /--report out\.pdf: the extension decides the format: .*\.pdf is none of them/],
    [['--scenario', 'nowhere.yaml'], /--scenario nowhere\.yaml: no such file/],
    [['--scenario', 'scenarios/lunch-rush.yaml', '--rate', '5'], /--rate does not go with --scenario/],
    [['--data', '/tmp'], /--data DIR is for a secure broker: pass its URL too/],
  ])('fleet %s: exit 2 at once, one line', async (args, message) => {
    const started = Date.now();
    const r = await runCli(['fleet', '--devices', '2', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    expect(r.stdout).toBe('');
    // No broker, no workers: nothing started (a fleet run takes several seconds).
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

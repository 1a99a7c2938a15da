/** `payspeaker fleet` as a user runs it: JSON report, plot file, exit codes. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

describe('payspeaker fleet (CLI)', () => {
  it('prints one JSON report and writes the latency plot', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-fleet-cli-'));
    try {
      const svg = path.join(dir, 'latency.svg');
      const html = path.join(dir, 'latency.html');
      const result = await runCli(
        ['fleet', '--devices', '20', '--rate', '20', '--duration', '1s', '--workers', '1', '--json', '--report', svg],
        { timeoutMs: 60_000 },
      );
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as Record<string, any>;
      expect(report.loads).toMatchObject([{ rate: 20, sent: 20, heard: 20, lost: 0, duplicates: 0 }]);
      expect(report.loads[0].curve).toBeUndefined();
      expect(report.run).toMatchObject({ devices: 20, workers: 1, signed: true, mode: 'speakers' });
      expect(fs.readFileSync(svg, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*creation → PCM ready[\s\S]*<path d="M/);
      // --json keeps stdout one JSON object: where the report went is said on stderr.
      expect(result.stderr).toContain(`report written to ${svg}`);

      const table = await runCli(
        [
          'fleet',
          '--devices',
          '5',
          '--rate',
          '10',
          '--duration',
          '500ms',
          '--workers',
          '1',
          '--insecure',
          '--report',
          html,
        ],
        { timeoutMs: 60_000 },
      );
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/5 speakers, zh-CN, unsigned/);
      expect(table.stdout).toMatch(/ok: every payment was heard exactly once/);
      expect(fs.readFileSync(html, 'utf8')).toMatch(/<!doctype html>[\s\S]*<svg[\s\S]*lost {19}/);
      expect(table.stdout).toContain(`report written to ${html}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('exits 2 on a bad rate and 5 when the broker is unreachable', async () => {
    const bad = await runCli(['fleet', '--rate', 'fast']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--rate must be payments per second \(e.g. 2000\) or "max", got "fast"/);
    const away = await runCli(['fleet', '--devices', '2', '--broker', 'mqtt://127.0.0.1:1']);
    expect(away.code).toBe(5);
    expect(away.stderr).toMatch(/cannot connect to the broker at mqtt:\/\/127.0.0.1:1/);
  });
});

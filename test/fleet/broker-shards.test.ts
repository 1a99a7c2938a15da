/**
 * Past what one process may open, the embedded broker is split into several aedes processes
 * (tools/fleet/broker-shards.ts), each holding whole worker slices, and every payment still
 * reaches its speaker. The limit is lowered for the fleet alone with util-linux's prlimit: 1,500
 * files leave room for one 400-speaker worker per broker process, so 1,200 speakers take three.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, cleanEnv, collect } from '../support/cli.ts';

const prlimit = process.platform === 'linux' && spawnSync('prlimit', ['--version']).status === 0;

function fleetUnderLimit(
  files: number,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('prlimit', [`--nofile=${files}:${files}`, process.execPath, BIN, 'fleet', ...args], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

describe.runIf(prlimit)('fleet past the open-file limit', () => {
  it('splits the embedded broker into processes of whole worker slices; every payment heard once', async () => {
    const r = await fleetUnderLimit(1500, [
      ...['--devices', '1200', '--workers', '3', '--rate', '100', '--duration', '2s', '--json'],
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as {
      run: { broker: string };
      loads: { sent: number; heard: number; lost: number; duplicates: number }[];
    };
    expect(report.run.broker).toMatch(/^3 embedded aedes processes, .* up to 400 connections each/);
    expect(report.loads[0]).toMatchObject({ sent: 200, heard: 200, lost: 0, duplicates: 0 });
  }, 120_000);

  it('a worker slice larger than a process may hold: exit 7 before connecting, saying what to raise', async () => {
    const r = await fleetUnderLimit(1500, ['--devices', '1200', '--workers', '1', '--duration', '1s']);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(
      /a worker's 1200 devices do not fit in one broker process, which may open 1500 files: raise the limit \(`ulimit -n 2224`\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

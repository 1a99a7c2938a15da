/**
 * A reader that stops early (`payspeaker devices | head -1`) ends the CLI quietly with exit 0,
 * as `git log | head` does, instead of an EPIPE stack trace and exit 1.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../broker/registry.ts';
import { BIN, cleanEnv, collect, type RunResult } from '../support/cli.ts';

/**
 * Runs the CLI with stdout on a pipe whose reading end this side closes: at once (`true`
 * exits before a process that takes a second to boot has written anything), or after the
 * first chunk (`head -1`). Resolves with the exit code and all of stderr.
 */
function runClosingStdout(
  args: string[],
  when: 'at-once' | 'after-first-chunk',
  env: Record<string, string> = {},
): Promise<RunResult & { firstChunk: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let firstChunk = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    if (when === 'at-once') child.stdout.destroy();
    else child.stdout.once('data', (d: Buffer) => ((firstChunk = d.toString()), child.stdout.destroy()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`payspeaker ${args.join(' ')} did not exit after its stdout closed\n${stderr}`));
    }, 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: '', stderr, firstChunk });
    });
  });
}

function expectQuiet(result: RunResult): void {
  expect(result.stderr).not.toMatch(/EPIPE|ERR_STREAM_DESTROYED|unexpected error/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.code).toBe(0);
}

describe('a closed stdout', () => {
  let dataDir: string;

  beforeAll(() => {
    // More rows than a pipe holds (64 KiB), so `devices` is still writing when its reader leaves.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-pipes-'));
    const registry = openRegistry(dataDir);
    try {
      for (let i = 1; i <= 2000; i++) {
        const id = `SPK-${String(i).padStart(5, '0')}`;
        registry.save({
          id,
          role: 'device',
          salt: crypto.randomBytes(16),
          secretHash: crypto.randomBytes(32),
          now: Date.now(),
          replace: false,
        });
      }
    } finally {
      registry.close();
    }
  });

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('ends --help quietly with 0 when the reader is gone before it writes', async () => {
    expectQuiet(await runClosingStdout(['--help'], 'at-once'));
  });

  it('ends a command help quietly with 0 too', async () => {
    expectQuiet(await runClosingStdout(['pay', '--help'], 'at-once'));
  });

  it('ends `devices` quietly with 0 when the reader leaves after the first chunk', async () => {
    const result = await runClosingStdout(['devices', '--data', dataDir], 'after-first-chunk');
    expect(result.firstChunk).toMatch(/^ID\s+STATUS/);
    expectQuiet(result);
    expectQuiet(await runClosingStdout(['devices', '--json', '--data', dataDir], 'at-once'));
  });

  it('works through a shell pipeline into head, as a user types it', async () => {
    const script = `"${process.execPath}" "${BIN}" devices --data "${dataDir}" | head -1; echo "exit=\${PIPESTATUS[0]}" >&2`;
    const result = await collect(spawn('bash', ['-c', script], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toBe('exit=0');
  });
});

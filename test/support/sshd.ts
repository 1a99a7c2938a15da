/**
 * A real OpenSSH server on 127.0.0.1 for one test file: /usr/sbin/sshd -D -e with a throwaway
 * host key, its own sshd_config and authorized_keys in a temp folder, and a throwaway ed25519
 * client key for the current user.
 *
 * sshd started by a non-root user can only log that same user in (it cannot switch users);
 * started by root (CI), it needs /run/sshd (its privilege-separation folder), which is created
 * here, and root login with a key is allowed in the temp config. Tests that need it skip with
 * `needs('sshd', 'ssh-keygen')` (./prerequisites.ts); the test set-up installs openssh-server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../tools/chaos/ports.ts';
import { available, SSHD } from './prerequisites.ts';

export { SSHD };

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  dir: string;
  /** The client's private key file (OpenSSH format, 0600). */
  identity: string;
  /** A known_hosts file that lists this server's host key for [127.0.0.1]:port. */
  knownHosts: string;
  /** "SHA256:…" of the host key, as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
  /** The host key line for known_hosts (`[127.0.0.1]:port ssh-ed25519 AAAA…`). */
  knownHostsLine: string;
  /** sshd's own log (stderr with -e). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * With OpenSSH's ssh-keygen, as a user would: ssh2's generateKeyPairSync('ed25519') writes a key
 * its own parser rejects about once in 256 ("Malformed OpenSSH private key": it strips a leading
 * zero byte of the public key, mscdex/ssh2#1513), which made a flash test fail now and then.
 */
export function writeKeyPair(file: string, comment: string): { public: string } {
  if (!available('ssh-keygen')) return writeKeyPairWithoutKeygen(file, comment);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
  fs.chmodSync(file, 0o600);
  return { public: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

/**
 * Without ssh-keygen its tests skip (needs('ssh-keygen')), but vitest still runs the bodies of
 * skipped describes, which make keys: a real ed25519 pair from node:crypto instead of an error.
 * The public line is OpenSSH's format; the private key is PKCS#8 PEM.
 */
function writeKeyPairWithoutKeygen(file: string, comment: string): { public: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const field = (b: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(b.length); // SSH wire format: a string is its uint32 length, then its bytes
    return Buffer.concat([length, b]);
  };
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const line = `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} ${comment}`;
  fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(`${file}.pub`, `${line}\n`);
  return { public: line };
}

/** The fingerprint as OpenSSH's own ssh-keygen prints it (an oracle independent of tools/flash). */
function fingerprintOf(pubFile: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' });
  return out.split(/\s+/)[1]!;
}

/** `extraConfig`: more sshd_config lines, e.g. `SetEnv PATH=…` to put fake tools first on the session's PATH. */
export async function startSshd(extraConfig: string[] = []): Promise<TestSshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-sshd-'));
  fs.chmodSync(dir, 0o755);
  const user = os.userInfo().username;
  const hostKey = writeKeyPair(path.join(dir, 'host_ed25519'), 'payspeaker-test-host');
  const identity = path.join(dir, 'id_ed25519');
  const client = writeKeyPair(identity, 'payspeaker-test-client');
  fs.writeFileSync(path.join(dir, 'authorized_keys'), `${client.public}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${dir}/host_ed25519`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The temp folder's parents (e.g. /tmp, mode 1777) would fail sshd's ownership checks.
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
    'MaxStartups 50',
    ...extraConfig,
  ];
  fs.writeFileSync(path.join(dir, 'sshd_config'), `${config.join('\n')}\n`);
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d));
  await waitListening(port, child, () => log);
  const knownHostsLine = `[127.0.0.1]:${port} ${hostKey.public.split(/\s+/).slice(0, 2).join(' ')}`;
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `${knownHostsLine}\n`);
  return {
    host: '127.0.0.1',
    port,
    user,
    dir,
    identity,
    knownHosts,
    knownHostsLine,
    hostKeyFingerprint: fingerprintOf(path.join(dir, 'host_ed25519.pub')),
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

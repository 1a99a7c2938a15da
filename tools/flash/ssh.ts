/**
 * One SSH session to the device, in Node with ssh2 (no ssh or scp binaries): keys from
 * --identity, else ~/.ssh/id_ed25519 / id_rsa, and ssh-agent through SSH_AUTH_SOCK; the host key
 * checked against known_hosts (see known-hosts.ts). Errors say which of these went wrong.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2, { type AuthenticationType, type Client, type ServerHostKeyAlgorithm, type SFTPWrapper } from 'ssh2';
import {
  appendKnownHost,
  checkHostKey,
  hostEntryName,
  preferredHostKeyTypes,
  readKnownHosts,
  type HostKeyVerdict,
} from './known-hosts.ts';
import { FlashError } from './errors.ts';

export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

/** "pi@raspberrypi.local" (or a bare host: the local user name, as `ssh` does). */
export function parseTarget(text: string, port: number): SshTarget {
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : os.userInfo().username;
  let host = at >= 0 ? text.slice(at + 1) : text;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!user || !host || /[\s/]/.test(host) || /\s/.test(user)) {
    throw new FlashError(
      'input',
      `${JSON.stringify(text)} is not a device to flash: write it as user@host, e.g. pi@raspberrypi.local`,
    );
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new FlashError('input', `--port ${port} is not a TCP port: use 1-65535 (sshd's default is 22)`);
  return { user, host, port };
}

export interface SshOptions {
  target: SshTarget;
  /** --identity; without it the default keys and the agent are tried. */
  identity?: string;
  passphrase?: string;
  /** SSH_AUTH_SOCK, or undefined for no agent. */
  agent?: string;
  knownHostsFile: string;
  /** "SHA256:…": trust this host key if known_hosts does not list the host yet (then add it). */
  acceptHostKey?: string;
  timeoutMs: number;
}

interface KeySource {
  file: string;
  key: Buffer;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The private keys to offer: the one asked for, or the usual ones that exist. */
function loadKeys(opts: SshOptions): KeySource[] {
  const files = opts.identity
    ? [opts.identity]
    : ['id_ed25519', 'id_rsa'].map((f) => path.join(os.homedir(), '.ssh', f)).filter((f) => fs.existsSync(f));
  return files.map((file) => {
    let key: Buffer;
    try {
      key = fs.readFileSync(file);
    } catch (err) {
      throw new FlashError(
        'input',
        `--identity ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}: pass the private key whose .pub is in the device's ~/.ssh/authorized_keys`,
      );
    }
    const parsed = ssh2.utils.parseKey(key, opts.passphrase);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      throw new FlashError(
        'input',
        encrypted
          ? `${file} is encrypted: load it into ssh-agent (ssh-add ${file}) or put its passphrase in PAYSPEAKER_SSH_PASSPHRASE`
          : `${file} is not a private key ssh2 can read (${parsed.message}): pass an OpenSSH private key with --identity`,
      );
    }
    return { file, key };
  });
}

export class SshSession {
  private constructor(
    readonly target: SshTarget,
    private readonly client: Client,
    /** How the host key was trusted: listed in known_hosts, or accepted by fingerprint now. */
    readonly hostKey: 'known' | 'accepted',
  ) {}

  static async connect(opts: SshOptions): Promise<SshSession> {
    const { target } = opts;
    const keys = loadKeys(opts);
    if (keys.length === 0 && !opts.agent) {
      throw new FlashError(
        'input',
        `no SSH key to log in to ${target.host} with: pass --identity FILE, or make one (ssh-keygen -t ed25519) and copy it to the device (ssh-copy-id ${target.user}@${target.host}), or start ssh-agent`,
      );
    }
    const methods = [
      ...keys.map((k) => ({
        type: 'publickey' as const,
        username: target.user,
        key: k.key,
        ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
      })),
      ...(opts.agent ? [{ type: 'agent' as const, username: target.user, agent: opts.agent }] : []),
    ];
    const knownText = readKnownHosts(opts.knownHostsFile);
    const preferred = preferredHostKeyTypes(knownText, target.host, target.port);
    let verdict: HostKeyVerdict | null = null;
    let blob: Buffer | null = null;
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string; code?: string }) => {
        if (verdict && !verdict.ok) reject(hostKeyError(verdict, opts));
        else
          reject(
            connectError(
              err,
              opts,
              keys,
              methods.map((m) => m.type),
            ),
          );
      });
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        readyTimeout: opts.timeoutMs,
        keepaliveInterval: 10_000,
        authHandler: methods,
        ...(preferred.length > 0
          ? { algorithms: { serverHostKey: { prepend: hostKeyAlgorithms(preferred), append: [], remove: [] } } }
          : {}),
        hostVerifier: (key: Buffer) => {
          blob = key;
          verdict = checkHostKey(knownText, target.host, target.port, key, opts.acceptHostKey);
          return verdict.ok;
        },
      });
    });
    const v = verdict as HostKeyVerdict | null;
    if (v?.ok && v.how === 'accepted' && blob) appendKnownHost(opts.knownHostsFile, target.host, target.port, blob);
    return new SshSession(target, client, v?.ok ? v.how : 'known');
  }

  /** Runs a command through the login shell; resolves with its exit code and output. */
  exec(command: string, opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new FlashError('remote', `cannot run a command on ${this.target.host}: ${err.message}`));
        let stdout = '';
        let stderr = '';
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              stream.close();
              reject(
                new FlashError(
                  'remote',
                  `\`${command.slice(0, 80)}\` on ${this.target.host} did not finish within ${opts.timeoutMs! / 1000} s`,
                ),
              );
            }, opts.timeoutMs)
          : null;
        stream.on('data', (d: Buffer) => (stdout += d));
        stream.stderr.on('data', (d: Buffer) => (stderr += d));
        stream.on('close', (code: number | null) => {
          if (timer) clearTimeout(timer);
          resolve({ code: code ?? 255, stdout, stderr });
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  /** Like exec, but a non-zero exit is an error that says what failed. */
  async run(
    command: string,
    what: string,
    opts: { stdin?: string | Buffer; timeoutMs?: number } = {},
  ): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0)
      throw new FlashError(
        'remote',
        `${what} failed on ${this.target.host} (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ') || 'no output'}`,
      );
    return r.stdout;
  }

  private sftpSession: Promise<SFTPWrapper> | null = null;

  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise((resolve, reject) =>
      this.client.sftp((err, sftp) =>
        err
          ? reject(
              new FlashError(
                'remote',
                `${this.target.host} offers no SFTP (${err.message}): enable "Subsystem sftp" in its sshd_config`,
              ),
            )
          : resolve(sftp),
      ),
    );
    return this.sftpSession;
  }

  close(): void {
    this.client.end();
  }
}

/** known_hosts key types → host key algorithms to ask for (an "ssh-rsa" key is used with SHA-2). */
function hostKeyAlgorithms(types: string[]): ServerHostKeyAlgorithm[] {
  return types.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [t])) as ServerHostKeyAlgorithm[];
}

function hostKeyError(v: Extract<HostKeyVerdict, { ok: false }>, opts: SshOptions): FlashError {
  const name = hostEntryName(opts.target.host, opts.target.port);
  const file = opts.knownHostsFile;
  switch (v.reason) {
    case 'unknown':
      return new FlashError(
        'host-key',
        `${name} is not in ${file}; its ${v.type} host key is ${v.fingerprint}. If that is the device's key (check with "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" on it), ` +
          `run again with --accept-host-key ${v.fingerprint} (it is then added to ${file})`,
      );
    case 'fingerprint-mismatch':
      return new FlashError(
        'host-key',
        `${name} offered the host key ${v.fingerprint}, not the one passed to --accept-host-key ${opts.acceptHostKey}: refused; check which machine answers at ${name}`,
      );
    case 'changed':
      return new FlashError(
        'host-key',
        `the ${v.type} host key of ${name} is now ${v.fingerprint}, not the one in ${file}: someone may be intercepting the connection, or the device was reinstalled. ` +
          `If you know it was reinstalled, remove the old key (ssh-keygen -R "${name}" -f ${file}) and run again`,
      );
    case 'revoked':
      return new FlashError(
        'host-key',
        `the host key of ${name} (${v.fingerprint}) is marked @revoked in ${file}: refused`,
      );
  }
}

function connectError(
  err: Error & { level?: string; code?: string },
  opts: SshOptions,
  keys: KeySource[],
  methods: AuthenticationType[],
): FlashError {
  const { user, host, port } = opts.target;
  if (err.level === 'client-authentication') {
    const tried = [...keys.map((k) => k.file), ...(methods.includes('agent') ? ['the ssh-agent keys'] : [])].join(', ');
    return new FlashError(
      'auth',
      `${user}@${host} refused the login with ${tried}: add the public key to ${user}'s ~/.ssh/authorized_keys on the device (ssh-copy-id -i KEY.pub -p ${port} ${user}@${host}) or pass --identity with the right key`,
    );
  }
  if (err.level === 'client-timeout')
    return new FlashError(
      'unreachable',
      `no SSH handshake with ${host}:${port} within ${opts.timeoutMs / 1000} s: is the device on and is sshd running (sudo systemctl enable --now ssh)?`,
    );
  if (err.level === 'client-dns' || err.level === 'client-socket' || err.code) {
    const why =
      err.code === 'ENOTFOUND'
        ? 'no such host name'
        : err.code === 'ECONNREFUSED'
          ? 'connection refused: sshd is not listening there'
          : (err.code ?? err.message);
    return new FlashError(
      'unreachable',
      `cannot reach ${host}:${port} (${why}): check the address, --port, and that the device is on the network with SSH enabled`,
    );
  }
  return new FlashError('unreachable', `SSH to ${host}:${port} failed: ${err.message}`);
}

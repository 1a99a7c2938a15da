/**
 * OpenSSH's known_hosts, read the way `ssh` reads it: plain and hashed (`|1|salt|hash`) host
 * patterns, `[host]:port` for ports other than 22, `@revoked` markers. Flash trusts a host key
 * only if known_hosts lists it, or if the user passes the fingerprint it printed
 * (`--accept-host-key SHA256:…`), which is then added, as `ssh` does after "yes".
 */
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface KnownKey {
  type: string;
  /** The key blob, as in the file (base64). */
  key: string;
  revoked: boolean;
}

/** "SHA256:…" as `ssh-keygen -lf` and `ssh` print it: unpadded base64 of the key blob's sha256. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside an SSH key blob (its first string), e.g. "ssh-ed25519". */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

/** The name known_hosts uses for host:port. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(name);
}

/** The keys known_hosts lists for host:port (negated patterns `!host` exclude a line). */
export function knownKeys(text: string, host: string, port: number): KnownKey[] {
  const name = hostEntryName(host, port);
  const found: KnownKey[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]!.startsWith('@')) {
      const marker = fields.shift();
      if (marker === '@cert-authority') continue; // certificates are not supported: ignore, never trust
      revoked = marker === '@revoked';
    }
    const [patterns, type, key] = fields;
    if (!patterns || !type || !key) continue;
    let match = false;
    for (const p of patterns.split(',')) {
      if (p.startsWith('!')) {
        if (patternMatches(p.slice(1), name)) {
          match = false;
          break;
        }
      } else if (patternMatches(p, name)) match = true;
    }
    if (match) found.push({ type, key, revoked });
  }
  return found;
}

export type HostKeyVerdict =
  | { ok: true; how: 'known' | 'accepted' }
  | {
      ok: false;
      reason: 'unknown' | 'changed' | 'revoked' | 'fingerprint-mismatch';
      fingerprint: string;
      type: string;
    };

/**
 * Whether to trust `keyBlob` for host:port: listed in known_hosts → yes; listed as revoked, or
 * the host is listed with other keys of the same type (changed: maybe an attack) → no, whatever
 * was accepted; unknown → only if `accept` is its fingerprint.
 */
export function checkHostKey(
  knownHostsText: string,
  host: string,
  port: number,
  keyBlob: Buffer,
  accept?: string,
): HostKeyVerdict {
  const type = keyTypeOf(keyBlob);
  const fp = fingerprint(keyBlob);
  const keys = knownKeys(knownHostsText, host, port);
  const b64 = keyBlob.toString('base64');
  const same = keys.filter((k) => k.key === b64);
  if (same.some((k) => k.revoked)) return { ok: false, reason: 'revoked', fingerprint: fp, type };
  if (same.length > 0) return { ok: true, how: 'known' };
  if (keys.some((k) => !k.revoked && k.type === type)) return { ok: false, reason: 'changed', fingerprint: fp, type };
  if (accept === undefined) return { ok: false, reason: 'unknown', fingerprint: fp, type };
  if (accept.trim() !== fp) return { ok: false, reason: 'fingerprint-mismatch', fingerprint: fp, type };
  return { ok: true, how: 'accepted' };
}

/** The key types known_hosts lists for the host, so the client asks for those first (as `ssh` does). */
export function preferredHostKeyTypes(knownHostsText: string, host: string, port: number): string[] {
  return [
    ...new Set(
      knownKeys(knownHostsText, host, port)
        .filter((k) => !k.revoked)
        .map((k) => k.type),
    ),
  ];
}

export function readKnownHosts(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export function appendKnownHost(file: string, host: string, port: number, keyBlob: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = readKnownHosts(file);
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
  fs.appendFileSync(file, `${sep}${hostEntryName(host, port)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`, {
    mode: 0o644,
  });
}

/**
 * Identities and their secrets. A secret is 32 random bytes (base64url), made at provisioning
 * and handed to the device once; the registry keeps only sha256(salt ‖ secret) with a 16-byte
 * random salt. A fast hash is right here: a 256-bit random secret has no dictionary to guess
 * from, while scrypt's ~50 ms per connect would cost minutes when a fleet reconnects
 * (docs/SECURITY.md explains the choice).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { backendCredentialsFile, ensureBrokerDir, writeSecretFile } from './data-dir.ts';
import { DuplicateIdentityError, type Registry, type Role, type StoredIdentity } from './registry.ts';
import { isDeviceId } from '../src/protocol/index.ts';

/** The backend's MQTT username, and its id in the registry: no device may take it. */
export const BACKEND_USERNAME = 'backend';

export interface Credentials {
  username: string;
  password: string;
}

export class ProvisioningError extends Error {
  override name = 'ProvisioningError';
}

export function newSecret(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string, salt: Buffer): Buffer {
  return crypto.createHash('sha256').update(salt).update(secret, 'utf8').digest();
}

/** Constant-time: how much of a guess was right never shows in the time taken. */
export function verifySecret(secret: string, identity: Pick<StoredIdentity, 'salt' | 'secretHash'>): boolean {
  const hash = hashSecret(secret, identity.salt);
  return hash.length === identity.secretHash.length && crypto.timingSafeEqual(hash, identity.secretHash);
}

/** Hashes a fresh secret into the registry and returns the secret: the only time it exists in clear. */
function issue(
  registry: Registry,
  id: string,
  role: Role,
  now: number,
  replace: boolean,
  secret = newSecret(),
): string {
  const salt = crypto.randomBytes(16);
  registry.save({ id, role, salt, secretHash: hashSecret(secret, salt), now, replace });
  return secret;
}

export interface ProvisionOptions {
  /** Re-issue credentials for an id that exists: the old secret stops working, a revoked device is reactivated. */
  force?: boolean;
  now?: number;
}

export interface Provisioned extends Credentials {
  id: string;
  /** True when an existing identity got a new secret. */
  rotated: boolean;
}

/** Throws a ProvisioningError saying what to do when `id` cannot be provisioned (as asked). */
export function checkProvisionable(registry: Registry, id: string, force = false): void {
  if (!isDeviceId(id)) {
    throw new ProvisioningError(
      `invalid device id ${JSON.stringify(id)}: use 1-64 letters, digits, "-" or "_", starting with a letter or digit (e.g. SPK-0001)`,
    );
  }
  if (id.toLowerCase() === BACKEND_USERNAME) {
    throw new ProvisioningError(`"${id}" is reserved for the backend's own identity: choose another device id`);
  }
  const existing = registry.find(id);
  if (existing && !force) {
    const since = new Date(existing.createdAt).toISOString();
    throw new ProvisioningError(
      `device ${id} is already provisioned (${existing.status}, provisioned ${since}): pass --force to issue a new secret (the old one stops working)`,
    );
  }
}

export function provisionDevice(registry: Registry, id: string, opts: ProvisionOptions = {}): Provisioned {
  checkProvisionable(registry, id, opts.force);
  const existing = registry.find(id);
  let password: string;
  try {
    password = issue(registry, id, 'device', opts.now ?? Date.now(), Boolean(opts.force));
  } catch (err) {
    // Another `provision` of the same id won the race since the check above.
    if (err instanceof DuplicateIdentityError) checkProvisionable(registry, id, opts.force);
    throw err;
  }
  return { id, username: id, password, rotated: existing !== null };
}

/** Credentials a backend process (`pay`, the demo) reads to connect to a secure broker. */
export function readBackendCredentials(dataDir: string): Credentials | null {
  const file = backendCredentialsFile(dataDir);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(
      `${file} is not readable JSON (${(err as Error).message}): delete it and restart the broker to create new backend credentials`,
      { cause: err },
    );
  }
  const c = raw as Partial<Credentials> | null;
  if (typeof c?.username !== 'string' || typeof c.password !== 'string') {
    throw new Error(
      `${file} lacks "username" and "password": delete it and restart the broker to create new backend credentials`,
    );
  }
  return { username: c.username, password: c.password };
}

/**
 * The backend identity on broker start. backend.json is the source of truth: when it exists
 * its password is (re)registered, so a deleted registry does not lock the backend out; when
 * it does not, a new secret is made and written there (0600).
 */
export function ensureBackendCredentials(dataDir: string, registry: Registry, now = Date.now()): Credentials {
  ensureBrokerDir(dataDir);
  const file = backendCredentialsFile(dataDir);
  const found = readBackendCredentials(dataDir);
  let creds = found?.username === BACKEND_USERNAME ? found : null;
  if (!creds) {
    const fresh = { username: BACKEND_USERNAME, password: newSecret() };
    const text = `${JSON.stringify(fresh, null, 2)}\n`;
    // A file for another username is replaced; an absent one is created only if no other
    // broker starting at the same moment created it first (then its secret is used).
    const written = found ? writeSecretFile(file, text) : writeSecretFile(file, text, { exclusive: true });
    creds = written ? fresh : readBackendCredentials(dataDir)!;
  }
  const row = registry.find(BACKEND_USERNAME);
  const registered = row?.role === 'backend' && row.status === 'active' && verifySecret(creds.password, row);
  if (!registered) issue(registry, BACKEND_USERNAME, 'backend', now, true, creds.password);
  return creds;
}

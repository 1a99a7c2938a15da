/**
 * The backend's Ed25519 signing key pair, kept in the broker's data folder:
 *
 *   backend-key.pem        PKCS#8 private key, mode 0600: whoever reads it can make speakers announce payments
 *   backend-key.pub.pem    SPKI public key: what devices are provisioned with
 *
 * Created on first start. Two processes starting at once must end up with ONE key, or devices
 * provisioned by one would reject everything the other signs. So the private key is written to
 * a private temp file and then hard-linked to its final name: link() fails if the name exists,
 * which makes "create if absent, with complete contents" atomic. (A plain rename would silently
 * replace the first key with the second after the first process had already started using it.)
 * The loser of the race discards its key and reads the winner's.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const BACKEND_PRIVATE_KEY_FILE = 'backend-key.pem';
export const BACKEND_PUBLIC_KEY_FILE = 'backend-key.pub.pem';

export interface BackendKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM: goes into device configs. */
  publicKeyPem: string;
  /** True when this call made the key (first start). */
  created: boolean;
}

export function loadOrCreateBackendKeys(dir: string): BackendKeys {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(
      `cannot create the folder for the backend signing key ${dir}: ${(err as Error).message}: choose another data folder`,
      { cause: err },
    );
  }
  const file = path.join(dir, BACKEND_PRIVATE_KEY_FILE);
  const created = !fs.existsSync(file) && createPrivateKeyFile(file);
  const privateKey = readPrivateKey(file);
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  writePublicKeyFile(path.join(dir, BACKEND_PUBLIC_KEY_FILE), publicKeyPem);
  return { privateKey, publicKey, publicKeyPem, created };
}

/** Returns true if this process's key became the key, false if another process got there first. */
function createPrivateKeyFile(file: string): boolean {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeDurably(tmp, pem, 0o600);
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new Error(
        `cannot create the backend signing key ${file}: ${(err as Error).message}: check that the data folder is writable`,
        { cause: err },
      );
    }
    syncDir(path.dirname(file));
    return true;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The private key if the backend has one in `dir`, else null: for tools that sign but must not mint keys. */
export function loadBackendPrivateKey(dir: string): KeyObject | null {
  const file = path.join(dir, BACKEND_PRIVATE_KEY_FILE);
  return fs.existsSync(file) ? readPrivateKey(file) : null;
}

function readPrivateKey(file: string): KeyObject {
  const fix = `delete ${file} to make a new key on the next start; every device must then be re-provisioned with the new public key`;
  let pem: Buffer;
  try {
    pem = fs.readFileSync(file);
  } catch (err) {
    throw new Error(
      `cannot read the backend signing key ${file}: ${(err as Error).message}: run as the user that owns the data folder`,
      { cause: err },
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(
      `backend signing key ${file} cannot be read as a PKCS#8 PEM private key (${(err as Error).message}): ${fix}`,
      { cause: err },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`backend signing key ${file} is a ${key.asymmetricKeyType} key, not Ed25519: ${fix}`);
  }
  tightenMode(file);
  return key;
}

/** A key others can read is a key others can sign payments with; 0600 as when it was created. */
function tightenMode(file: string): void {
  if (process.platform === 'win32') return;
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
}

/**
 * The public file is derived from the private key, so it is rewritten whenever it is missing or
 * differs (a stale copy would provision devices with a key that verifies nothing). Concurrent
 * writers write identical bytes, so temp + rename is enough here.
 */
function writePublicKeyFile(file: string, pem: string): void {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (current === pem) return;
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeDurably(tmp, pem, 0o644);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Flushed before it is linked or renamed, so a power cut cannot leave an empty key under the real name. */
function writeDurably(file: string, text: string, mode: number): void {
  const fd = fs.openSync(file, 'wx', mode);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Makes the new directory entry durable too; best effort (not possible on Windows). */
function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // The key is already complete on disk; only the name's durability is at stake.
  }
}

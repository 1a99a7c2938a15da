/**
 * Where the broker keeps its state: `DIR/broker/` under the payspeaker data directory.
 *
 *   registry.sqlite        device identities (salted hashes, never secrets), status, presence
 *   backend.json           the backend's own credentials (mode 0600): read by `pay` and the demo
 *   backend-key.pub.pem    the backend's signing public key, copied into device configs
 *
 * The folder is created 0700 and secret files 0600: they are readable by this user only.
 */
import fs from 'node:fs';
import path from 'node:path';

export function brokerDir(dataDir: string): string {
  return path.join(dataDir, 'broker');
}

export function registryFile(dataDir: string): string {
  return path.join(brokerDir(dataDir), 'registry.sqlite');
}

export function backendCredentialsFile(dataDir: string): string {
  return path.join(brokerDir(dataDir), 'backend.json');
}

export function backendPublicKeyFile(dataDir: string): string {
  return path.join(brokerDir(dataDir), 'backend-key.pub.pem');
}

/** Creates DIR/broker (0700) if needed and returns it. */
export function ensureBrokerDir(dataDir: string): string {
  const dir = brokerDir(dataDir);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new Error(
      `cannot create the broker's data folder ${dir}: ${(err as Error).message}: choose another with --data DIR`,
      { cause: err },
    );
  }
  return dir;
}

/** The backend's public key (PEM) if one has been created, else null. */
export function readBackendPublicKey(dataDir: string): string | null {
  try {
    return fs.readFileSync(backendPublicKeyFile(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Writes a file that holds a secret: created 0600 under a temp name, then moved to its name, so
 * the secret is never readable by others, not even for a moment, and a crash leaves either the
 * old file or the new one. `exclusive` keeps an existing file (link() fails where rename would
 * replace) and returns false: two brokers starting at once end up with one backend secret.
 */
export function writeSecretFile(file: string, text: string, opts: { exclusive?: boolean } = {}): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (!opts.exclusive) {
    fs.renameSync(tmp, file);
    return true;
  }
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * `fleet --data DIR`: a fleet against a secure broker (the `payspeaker broker` whose data
 * directory is DIR). The generator connects as the backend (DIR/broker/backend.json) and signs
 * with the backend's key, so the speakers check the same signatures provisioned boxes do; each
 * speaker is a device in DIR's registry. The registry keeps only hashes, so the fleet keeps its
 * speakers' secrets itself, in DIR/fleet/PREFIX.json (0600): a second run reuses them instead
 * of issuing thousands of new ones, and ids provisioned by someone else are never rotated.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { provisionDevice, readBackendCredentials, verifySecret, type Credentials } from '../../broker/credentials.ts';
import { brokerDir, readBackendPublicKey, writeSecretFile } from '../../broker/data-dir.ts';
import { openRegistry } from '../../broker/registry.ts';
import { deviceId } from './ids.ts';

export class FleetDataError extends Error {
  override name = 'FleetDataError';
  constructor(
    message: string,
    /** True when the backend's credentials or key are missing (exit 6), false for a clash of ids (exit 2). */
    readonly missingCredentials = false,
  ) {
    super(message);
  }
}

export interface FleetSecurity {
  /** The backend's MQTT login, for the generator. */
  backend: Credentials;
  /** The backend's signing key; null with --insecure (unsigned payments). */
  privateKey: KeyObject | null;
  publicKeyPem: string | null;
  /** Each speaker's MQTT password, by device index (the username is the device id). */
  passwords: string[];
  /** How many speakers were provisioned by this run (the rest were reused). */
  provisioned: number;
  secretsFile: string;
}

export function fleetSecretsFile(dataDir: string, prefix: string): string {
  return path.join(dataDir, 'fleet', `${prefix}.json`);
}

export function fleetSecurity(
  dataDir: string,
  prefix: string,
  devices: number,
  opts: { signed: boolean; now?: number },
): FleetSecurity {
  const backend = known(() => readBackendCredentials(dataDir), true);
  if (!backend)
    throw new FleetDataError(
      `no backend credentials in ${brokerDir(dataDir)}: start the broker once with --data ${dataDir} (it makes them), or point --data at the broker's data directory`,
      true,
    );
  const privateKey = opts.signed ? loadBackendPrivateKey(brokerDir(dataDir)) : null;
  if (opts.signed && !privateKey)
    throw new FleetDataError(
      `no backend signing key in ${brokerDir(dataDir)}: start the broker once with --data ${dataDir}, or pass --insecure to send unsigned payments`,
      true,
    );
  const file = fleetSecretsFile(dataDir, prefix);
  const secrets = readSecrets(file);
  const passwords: string[] = [];
  let provisioned = 0;
  const registry = known(() => openRegistry(dataDir), false);
  try {
    for (let i = 0; i < devices; i++) {
      const id = deviceId(prefix, i);
      const known = registry.find(id);
      const secret = secrets[id];
      if (!known) {
        secrets[id] = provisionDevice(registry, id, { now: opts.now }).password;
        provisioned += 1;
      } else if (known.role !== 'device' || secret === undefined || !verifySecret(secret, known)) {
        throw new FleetDataError(
          `${id} is already in ${dataDir}'s registry and ${file} does not hold its secret: choose another --prefix (e.g. --prefix FLEET2)`,
        );
      } else if (known.status === 'revoked') {
        throw new FleetDataError(
          `${id} is revoked in ${dataDir}'s registry: choose another --prefix (e.g. --prefix FLEET2)`,
        );
      }
      passwords.push(secrets[id]!);
    }
  } finally {
    registry.close();
    // Even after a refusal half-way: the ids provisioned so far must stay usable next time.
    if (provisioned > 0) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeSecretFile(file, `${JSON.stringify(secrets, null, 1)}\n`);
    }
  }
  return {
    backend,
    privateKey,
    publicKeyPem: opts.signed ? readBackendPublicKey(dataDir) : null,
    passwords,
    provisioned,
    secretsFile: file,
  };
}

/** A data directory's own errors already say what to do: pass them on as FleetDataErrors, without a stack. */
function known<T>(f: () => T, missingCredentials: boolean): T {
  try {
    return f();
  } catch (err) {
    throw new FleetDataError(`${(err as Error).message} (--data)`, missingCredentials);
  }
}

function readSecrets(file: string): Record<string, string> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new FleetDataError(
      `${file} is not readable JSON (${(err as Error).message}): delete it and use another --prefix`,
    );
  }
}

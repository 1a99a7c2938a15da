/**
 * What a command acting as the payment backend (`pay`, `command`) needs from the broker's data
 * directory: the backend's MQTT credentials (for a secure broker) and its signing key (so a
 * speaker believes the payment). Both are made by the broker on first start.
 */
import type { KeyObject } from 'node:crypto';
import { readBackendCredentials, type Credentials } from '../../broker/credentials.ts';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { signNotification, type Notification } from '../../src/protocol/index.ts';
import { CliError } from './exit-codes.ts';

export interface Backend {
  /** MQTT username/password, or null to connect anonymously (an --insecure broker). */
  credentials: Credentials | null;
  /** Signs a notification; with --insecure and no key, returns it unsigned. */
  sign(n: Notification): Notification;
}

export function backendFromDataDir(dataDir: string, opts: { insecure: boolean; needsKey: boolean }): Backend {
  const credentials = readBackendCredentials(dataDir);
  let key: KeyObject | null = null;
  try {
    key = loadBackendPrivateKey(brokerDir(dataDir));
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
  if (!key && opts.needsKey && !opts.insecure) {
    throw new CliError(
      `no backend signing key in ${brokerDir(dataDir)}: start the broker once with --data ${dataDir} (it makes the key), ` +
        `point --data at the broker's data directory, or pass --insecure to send an unsigned payment to an --insecure speaker`,
    );
  }
  return { credentials, sign: (n) => (key ? signNotification(n, key) : n) };
}

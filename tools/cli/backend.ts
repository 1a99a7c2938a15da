/**
 * What a command acting as the payment backend (`pay`, `command`, `ota`) needs from the broker's
 * data directory: the backend's MQTT credentials (for a secure broker) and its signing key (so a
 * speaker believes the payment, and runs the command). Both are made by the broker on first start.
 */
import type { KeyObject } from 'node:crypto';
import { readBackendCredentials, type Credentials } from '../../broker/credentials.ts';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { type Command, type Notification, type UnsignedCommand } from '../../src/protocol/index.ts';
import { signCommand, signNotification } from '../../src/protocol/signing-node.ts';
import { CliError } from './exit-codes.ts';

export interface Backend {
  /** MQTT username/password, or null to connect anonymously (an --insecure broker). */
  credentials: Credentials | null;
  /** True when there is a signing key (otherwise only --insecure got this far). */
  signs: boolean;
  /** Signs a notification; with --insecure and no key, returns it unsigned. */
  sign(n: Notification): Notification;
  /**
   * Signs a command for `c.device`, made now (`c.createdAt`); with --insecure and no key, returns
   * it unsigned (only an --insecure speaker runs it).
   */
  signCommand(c: UnsignedCommand): Command;
}

export interface BackendOptions {
  insecure: boolean;
  needsKey: boolean;
  /** What is sent unsigned with --insecure, for the error without a key: "payment" (default), "command". */
  what?: string;
}

export function backendFromDataDir(dataDir: string, opts: BackendOptions): Backend {
  const credentials = readBackendCredentials(dataDir);
  let key: KeyObject | null = null;
  try {
    key = loadBackendPrivateKey(brokerDir(dataDir));
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
  const what = opts.what ?? 'payment';
  if (!key && opts.needsKey && !opts.insecure) {
    throw new CliError(
      `no backend signing key in ${brokerDir(dataDir)}: start the broker once with --data ${dataDir} (it makes the key), ` +
        `point --data at the broker's data directory, or pass --insecure to send an unsigned ${what} to an --insecure speaker`,
    );
  }
  return {
    credentials,
    signs: key !== null,
    sign: (n) => (key ? signNotification(n, key) : n),
    signCommand: (c) => (key ? signCommand(c, key) : c),
  };
}

/**
 * How every command that talks MQTT as the backend (`command`, `ota`, `pay --direct`, `watch`)
 * reaches the broker: the URL from --broker, the credentials from --data (backend.ts), and for
 * mqtts:// and wss:// the CA from --ca, else DIR/certs/ca.pem if `certs` made one there, else
 * the system's CAs. One place, so a command cannot forget TLS again (issue 14, item 1).
 */
import fs from 'node:fs';
import { Option } from 'commander';
import type { MqttClient } from 'mqtt';
import {
  BrokerCertificateError,
  BrokerRefusedError,
  BrokerUnreachableError,
  connectOnce,
  isTlsUrl,
  tlsClientOptions,
} from '../../src/mqtt/connect.ts';
import { SubscriptionRefusedError } from '../../src/mqtt/ask.ts';
import { tlsFiles } from '../../broker/tls.ts';
import type { Credentials } from '../../broker/credentials.ts';
import { resolveDataDir, type DataFlags } from './data-option.ts';
import { CliError, EXIT } from './exit-codes.ts';

export interface BrokerFlags extends DataFlags {
  broker: string;
  ca?: string;
}

/** A CA certificate and the file it came from (named in certificate errors). */
export interface BrokerCa {
  pem: string;
  file: string;
}

/** `--ca FILE`, the same words on every command that connects. */
export function caOption(
  description = "for mqtts:// and wss://: the CA (PEM) the broker's certificate must be signed by (default: DIR/certs/ca.pem if it exists, else the system's CAs)",
): Option {
  return new Option('--ca <file>', description);
}

/** The CA to check the broker's certificate against: --ca, else the data directory's development CA, else none (system CAs). */
export function brokerCa(flags: BrokerFlags): BrokerCa | null {
  if (!isTlsUrl(flags.broker)) return null;
  return readCa(flags.ca, resolveDataDir(flags));
}

/** --ca FILE (which must exist), else DIR/certs/ca.pem if it exists, else null. */
export function readCa(caFlag: string | undefined, dataDir: string): BrokerCa | null {
  const file = caFlag ?? tlsFiles(dataDir).ca;
  try {
    return { pem: fs.readFileSync(file, 'utf8'), file };
  } catch (err) {
    if (caFlag === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(
      `--ca ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}: pass the broker's DIR/certs/ca.pem`,
    );
  }
}

/** One MQTT connection as the backend, its failures as the README's exit codes. */
export async function connectAsBackend(
  brokerUrl: string,
  clientId: string,
  credentials: Credentials | null,
  ca: BrokerCa | null,
): Promise<MqttClient> {
  try {
    const opts = { clientId, ...(credentials ?? {}), ...tlsClientOptions(brokerUrl, ca?.pem) };
    return await connectOnce(brokerUrl, opts, undefined, ca?.file);
  } catch (err) {
    throw brokerCliError(err);
  }
}

/** The same, from a command's flags: --broker, --ca / DIR/certs/ca.pem. */
export function connectBackend(flags: BrokerFlags, clientId: string, credentials: Credentials | null) {
  return connectAsBackend(flags.broker, clientId, credentials, brokerCa(flags));
}

/** A broker failure as a CliError with the README's exit code; anything else unchanged. */
export function brokerCliError(err: unknown): unknown {
  if (err instanceof BrokerUnreachableError) return new CliError(err.message, EXIT.UNREACHABLE);
  // A certificate we cannot trust is a broker we cannot reach (safely): same code as pay has used.
  if (err instanceof BrokerCertificateError) return new CliError(err.message, EXIT.UNREACHABLE);
  if (err instanceof BrokerRefusedError) return new CliError(err.message, EXIT.REFUSED);
  if (err instanceof SubscriptionRefusedError)
    return new CliError(
      `${err.message}: the broker's ACL lets only the backend read devices' answers; point --data at the broker's data directory`,
      EXIT.REFUSED,
    );
  return err;
}

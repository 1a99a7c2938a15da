/**
 * `payspeaker broker`'s flags and how they become the broker's options: limits, allowed
 * WebSocket origins, the notification service, TLS. Checked here, so a bad value is refused
 * before anything listens.
 */
import type { Limits } from '../../../broker/limits.ts';
import { normalizeOrigin } from '../../../broker/origins.ts';
import { MAX_TTL_MS, type ServiceOptions } from '../../../broker/service.ts';
import { loadServerTls, tlsFiles } from '../../../broker/tls.ts';
import type { DataFlags } from '../data-option.ts';
import { parseDuration } from '../duration.ts';
import { CliError } from '../exit-codes.ts';

export interface BrokerFlags extends DataFlags {
  insecure?: boolean;
  host: string;
  port: number;
  wsPort: number | false;
  json?: boolean;
  logLevel: 'info';
  maxPacket: number;
  maxTopicLevels: number;
  maxClientId: number;
  maxInflight: number;
  connectRate: number;
  connectBurst: number;
  connectTimeout: number;
  tls?: boolean;
  tlsOnly?: boolean;
  handshakeTimeout: number;
  wsOrigin: string[];
  tlsPort: number;
  wssPort: number | false;
  tlsCert?: string;
  tlsKey?: string;
  persistence: string;
  cluster?: string;
  httpPort: number | false;
  paymentTtl: string;
  retryAfter: string;
  retryMax: string;
  firmwareDir?: string;
}

export function limitsFrom(f: BrokerFlags): Partial<Limits> {
  return {
    maxPacketBytes: f.maxPacket,
    maxTopicLevels: f.maxTopicLevels,
    maxClientIdLength: f.maxClientId,
    maxInflightInbound: f.maxInflight,
    connectTimeoutMs: f.connectTimeout,
    connectRate: f.connectRate === 0 ? null : { perSecond: f.connectRate, burst: f.connectBurst },
  };
}

/**
 * `--ws-origin` is repeatable and takes comma-separated lists (PAYSPEAKER_WS_ORIGIN holds one);
 * the first value given replaces the settings file's `wsOrigins`, later ones add to it.
 */
/** --ws-origin values are checked as they are parsed; the settings file's `wsOrigins` only here. */
export function originsFrom(origins: string[]): string[] {
  try {
    return origins.map(normalizeOrigin);
  } catch (err) {
    throw new CliError(`wsOrigins in the settings file: ${(err as Error).message}`);
  }
}

/** The outbox and its HTTP API: always on, in the data directory's broker database. */
export function serviceFrom(flags: BrokerFlags, dataDir: string): ServiceOptions {
  const ttlMs = parseDuration(flags.paymentTtl, '--payment-ttl');
  if (ttlMs > MAX_TTL_MS)
    throw new CliError(
      `--payment-ttl ${flags.paymentTtl} is longer than 24h: speakers refuse notifications older than that, so retrying longer cannot help`,
    );
  const baseMs = parseDuration(flags.retryAfter, '--retry-after');
  const maxMs = parseDuration(flags.retryMax, '--retry-max');
  if (maxMs < baseMs)
    throw new CliError(
      `--retry-max ${flags.retryMax} is shorter than --retry-after ${flags.retryAfter}: the longest wait cannot be shorter than the first`,
    );
  return {
    dataDir,
    httpPort: flags.httpPort === false ? null : flags.httpPort,
    ttlMs,
    retry: { baseMs, maxMs },
    ...(flags.firmwareDir && { firmwareDir: flags.firmwareDir }),
  };
}

/** The certificate and ports for --tls; the files default to what `payspeaker certs` wrote. */
export function tlsFrom(flags: BrokerFlags, dataDir: string) {
  const files = tlsFiles(dataDir);
  let pems;
  try {
    pems = loadServerTls(flags.tlsCert ?? files.cert, flags.tlsKey ?? files.key);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return { ...pems, port: flags.tlsPort, wssPort: flags.wssPort === false ? null : flags.wssPort };
}

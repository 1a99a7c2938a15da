/**
 * The notification service: the durable outbox, the dispatcher that carries its payments to
 * devices over the broker, and the HTTP API backends call. Started inside the broker process
 * by startBroker's `service` option (`payspeaker broker` always starts it).
 */
import path from 'node:path';
import type { Aedes } from 'aedes';
import { signNotification } from '../src/protocol/signing-node.ts';
import type { Logger } from '../src/log.ts';
import { loadOrCreateBackendKeys } from './backend-keys.ts';
import { brokerDir } from './data-dir.ts';
import { Outbox } from './outbox/outbox.ts';
import { Dispatcher } from './outbox/dispatcher.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './outbox/retry.ts';
import { startHttpApi, type HttpApi } from './http/server.ts';
import type { AckIntake } from './ack-intake.ts';
import type { Registry } from './registry.ts';
import type { PlaybackTracker } from './tracker.ts';
import type { MqttEndpoints } from './http/info.ts';

export interface ServiceOptions {
  /** The outbox lives in DATA_DIR/broker's database; the signing key beside it. */
  dataDir: string;
  /** HTTP API port; 0 picks a free port, null runs the outbox without the API. Default 8081. */
  httpPort?: number | null;
  /** How long to keep retrying a payment without a final ack. Default 1 h. */
  ttlMs?: number;
  retry?: Partial<RetryPolicy>;
  /** How often the dispatcher looks for due retries. Default 250 ms. */
  pollMs?: number;
  now?: () => number;
  /** This broker shares its devices with others through Redis (`--cluster`): retries go out even to a device not connected here. */
  clustered?: boolean;
  /** Where the HTTP API serves firmware releases from (over-the-air updates). Default DATA_DIR/broker/firmware. */
  firmwareDir?: string;
}

/** Devices refuse a notification older than 24 h (src/protocol/signing.ts), so retrying longer is pointless. */
export const MAX_TTL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_HTTP_PORT = 8081;

export function defaultFirmwareDir(dataDir: string): string {
  return path.join(brokerDir(dataDir), 'firmware');
}

export interface NotificationService {
  readonly outbox: Outbox;
  /**
   * Records a device's ack before aedes PUBACKs it: startBroker composes it into
   * authorizePublish with withAckIntake (broker/ack-intake.ts).
   */
  readonly ackIntake: AckIntake;
  /** http://host:port, or null without the API. */
  readonly httpUrl: string | null;
  close(): Promise<void>;
}

interface Parts {
  aedes: Aedes;
  tracker: PlaybackTracker;
  registry: Registry | null;
  host: string;
  log: Logger;
  /** The broker's MQTT listeners, for GET /v1/info (a browser speaker dials the WebSocket one). */
  mqtt?: MqttEndpoints;
}

export async function startNotificationService(opts: ServiceOptions, parts: Parts): Promise<NotificationService> {
  const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  if (!(ttlMs > 0 && ttlMs <= MAX_TTL_MS)) {
    throw new Error(
      `payment time-to-live ${ttlMs} ms is out of range: it must be more than 0 and at most 24 h, the age a speaker still accepts`,
    );
  }
  const { privateKey, publicKey, publicKeyPem } = loadOrCreateBackendKeys(brokerDir(opts.dataDir));
  const outbox = Outbox.open(opts.dataDir, {
    sign: (n) => signNotification(n, privateKey),
    ttlMs,
    retry: { ...DEFAULT_RETRY, ...opts.retry },
    now: opts.now,
  });
  const dispatcher = new Dispatcher(outbox, parts.aedes, parts.log, { pollMs: opts.pollMs, clustered: opts.clustered });
  let http: HttpApi | null = null;
  try {
    await dispatcher.start();
    const port = opts.httpPort === undefined ? DEFAULT_HTTP_PORT : opts.httpPort;
    if (port !== null) {
      const firmware = { dir: opts.firmwareDir ?? defaultFirmwareDir(opts.dataDir), publicKey };
      const backendKeys = { privateKey, publicKeyPem }; // commands are signed, provisioning hands out the PEM
      http = await startHttpApi({
        host: parts.host,
        port,
        outbox,
        log: parts.log,
        fleet: { aedes: parts.aedes, tracker: parts.tracker, registry: parts.registry, mqtt: parts.mqtt },
        firmware,
        backendKeys,
      });
    }
  } catch (err) {
    dispatcher.stop();
    outbox.close();
    throw err;
  }
  return {
    outbox,
    ackIntake: dispatcher,
    httpUrl: http?.url ?? null,
    async close() {
      await http?.close();
      dispatcher.stop();
      outbox.close();
    },
  };
}

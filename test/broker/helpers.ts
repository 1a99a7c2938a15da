/** Shared set-up for the security tests: temp data dirs, a secure broker, clients that connect as someone. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import type { ServiceOptions } from '../../broker/service.ts';
import { openRegistry } from '../../broker/registry.ts';
import { provisionDevice, readBackendCredentials, type Credentials } from '../../broker/credentials.ts';
import { topics } from '../../src/protocol/index.ts';
import type { Logger } from '../../src/log.ts';
import { silentLogger } from '../../src/log.ts';

const dirs: string[] = [];
process.once('exit', () => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

export function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-test-security-'));
  dirs.push(dir);
  return dir;
}

export async function startSecureBroker(
  dataDir: string,
  log: Logger = silentLogger,
  revocationPollMs?: number,
): Promise<RunningBroker> {
  return startBroker({
    host: '127.0.0.1',
    port: 0,
    wsPort: null,
    log,
    security: { mode: 'secure', dataDir, revocationPollMs },
  });
}

/** A secure broker with its notification service (API on an ephemeral port), and the backend's token for it. */
export async function startSecureService(
  service: Partial<Omit<ServiceOptions, 'dataDir' | 'httpPort'>> = {},
): Promise<{ dir: string; broker: RunningBroker; api: string; token: string }> {
  const dir = tempDataDir();
  const broker = await startBroker({
    port: 0,
    wsPort: null,
    security: { mode: 'secure', dataDir: dir },
    service: { dataDir: dir, httpPort: 0, ...service },
  });
  return { dir, broker, api: broker.service!.httpUrl!, token: backendCredentials(dir).password };
}

/** Provisions through the library, as `payspeaker provision` does, and returns the credentials. */
export function provision(dataDir: string, id: string, force = false): Credentials {
  const registry = openRegistry(dataDir);
  try {
    return provisionDevice(registry, id, { force });
  } finally {
    registry.close();
  }
}

export function backendCredentials(dataDir: string): Credentials {
  const creds = readBackendCredentials(dataDir);
  if (!creds) throw new Error(`no backend.json in ${dataDir}: start a secure broker first`);
  return creds;
}

export type Attempt = { client: MqttClient; code: 0 } | { client: null; code: number };

/**
 * One connection attempt: resolves with the client, or with the CONNACK code that refused it.
 * `listen` sees the client before CONNACK, so no message queued for a session is missed.
 */
export function tryConnect(url: string, opts: IClientOptions, listen?: (client: MqttClient) => void): Promise<Attempt> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  listen?.(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve({ client, code: 0 }));
    client.once('error', (err: Error & { code?: number | string }) => {
      client.end(true);
      if (typeof err.code === 'number') resolve({ client: null, code: err.code });
      else reject(err);
    });
  });
}

/** A device as the firmware connects: client id payspeaker-<id>, persistent session, will on its state topic. */
export async function connectDevice(
  url: string,
  id: string,
  password: string,
  extra: IClientOptions = {},
  listen?: (client: MqttClient) => void,
): Promise<Attempt> {
  return tryConnect(
    url,
    {
      clientId: `payspeaker-${id}`,
      username: id,
      password,
      clean: false,
      will: {
        topic: topics.state(id),
        payload: Buffer.from(JSON.stringify({ v: 1, device: id, online: false })),
        qos: 1,
        retain: true,
      },
      ...extra,
    },
    listen,
  );
}

export async function connectBackend(
  url: string,
  dataDir: string,
  clientId = `test-backend-${Math.random().toString(36).slice(2)}`,
): Promise<MqttClient> {
  const { username, password } = backendCredentials(dataDir);
  const attempt = await tryConnect(url, { clientId, username, password });
  if (!attempt.client) throw new Error(`the backend was refused with CONNACK ${attempt.code}`);
  return attempt.client;
}

export async function connected(url: string, id: string, password: string): Promise<MqttClient> {
  const attempt = await connectDevice(url, id, password);
  if (!attempt.client) throw new Error(`device ${id} was refused with CONNACK ${attempt.code}`);
  return attempt.client;
}

/** Resolves when the client's connection closes (the broker dropped it). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));
}

export function end(client: MqttClient | null): Promise<void> {
  return new Promise((resolve) => (client ? client.end(true, {}, () => resolve()) : resolve()));
}

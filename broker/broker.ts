/**
 * The embedded broker: aedes 1.x with a TCP and a WebSocket listener, plus the playback
 * tracker. Everything binds to 127.0.0.1 by default; port 0 picks a free port (tests).
 * With `security` it authenticates clients against the registry and applies the ACL
 * (docs/SECURITY.md); without it, it is open, as it was before security existed.
 */
import { Aedes, type AedesOptions } from 'aedes';
import { listenTcp, listenWebSocket, type Listener } from './listeners.ts';
import { PlaybackTracker } from './tracker.ts';
import { Authenticator, forgetRefusedSubscriptions } from './auth.ts';
import { Sessions } from './sessions.ts';
import { openRegistry, type Registry } from './registry.ts';
import { ensureBackendCredentials } from './credentials.ts';
import { loadOrCreateBackendKeys } from './backend-keys.ts';
import { brokerDir } from './data-dir.ts';
import { silentLogger, type Logger } from '../src/log.ts';

export type SecurityOptions =
  /** Anyone may connect, publish and subscribe: for a demo on a trusted machine. Logs a warning. */
  | { mode: 'insecure' }
  /** Registry credentials and the ACL; the registry and backend.json live in DATA_DIR/broker. */
  | { mode: 'secure'; dataDir: string; revocationPollMs?: number; now?: () => number };

export interface BrokerOptions {
  host?: string;
  /** MQTT over TCP; 0 picks a free port. Default 1883. */
  port?: number;
  /** MQTT over WebSocket; 0 picks a free port, null disables it. Default 8080. */
  wsPort?: number | null;
  log?: Logger;
  /** Omitted: open, and silent about it (the behaviour tests were written against). */
  security?: SecurityOptions;
}

export interface RunningBroker {
  readonly aedes: Aedes;
  readonly tracker: PlaybackTracker;
  readonly mqttUrl: string;
  readonly wsUrl: string | null;
  /** The device registry in secure mode, else null. */
  readonly registry: Registry | null;
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<RunningBroker> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? silentLogger;
  const security = setUpSecurity(opts.security, log);
  const aedes = await Aedes.createBroker(security?.hooks);
  security?.start(aedes);
  const tracker = new PlaybackTracker(log);
  await tracker.attach(aedes);
  logClientEvents(aedes, log);

  const listeners: Listener[] = [];
  const shutDown = async () => {
    await closeAll(aedes, listeners);
    security?.stop();
  };
  try {
    listeners.push(await listenTcp(aedes, host, opts.port ?? 1883));
    if (opts.wsPort !== null) listeners.push(await listenWebSocket(aedes, host, opts.wsPort ?? 8080));
  } catch (err) {
    await shutDown();
    throw err;
  }
  const [tcp, ws] = listeners;
  log.info({ mqtt: tcp!.url, ws: ws?.url ?? null, ...(opts.security && { security: opts.security.mode }) }, 'broker listening');

  let closing: Promise<void> | null = null;
  return {
    aedes,
    tracker,
    mqttUrl: tcp!.url,
    wsUrl: ws?.url ?? null,
    registry: security?.registry ?? null,
    close: () => (closing ??= shutDown().then(() => log.info('broker stopped'))),
  };
}

interface Security {
  hooks: AedesOptions;
  registry: Registry | null;
  start(aedes: Aedes): void;
  stop(): void;
}

function setUpSecurity(opts: SecurityOptions | undefined, log: Logger): Security | null {
  if (!opts) return null;
  if (opts.mode === 'insecure') {
    log.warn('INSECURE: anonymous clients may connect, and anyone may publish payment notifications to any speaker; use only on a trusted machine');
    return { hooks: {}, registry: null, start: () => {}, stop: () => {} };
  }
  const registry = openRegistry(opts.dataDir, { forBroker: true });
  try {
    ensureBackendCredentials(opts.dataDir, registry, (opts.now ?? Date.now)());
    // The backend's signing key: made on first start, so provisioning can hand out its public half.
    loadOrCreateBackendKeys(brokerDir(opts.dataDir));
  } catch (err) {
    registry.close();
    throw err;
  }
  const auth = new Authenticator(registry, log);
  let sessions: Sessions | null = null;
  return {
    hooks: auth.hooks(),
    registry,
    start: (aedes) => {
      forgetRefusedSubscriptions(aedes);
      sessions = new Sessions(aedes, registry, auth, log, { pollMs: opts.revocationPollMs, now: opts.now });
      sessions.start();
    },
    stop: () => {
      sessions?.stop();
      registry.close();
    },
  };
}

async function closeAll(aedes: Aedes, listeners: Listener[]): Promise<void> {
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
  await Promise.all(listeners.map((l) => l.close()));
}

function logClientEvents(aedes: Aedes, log: Logger): void {
  aedes.on('client', (client) => log.debug({ client: client.id }, 'client connected'));
  aedes.on('clientDisconnect', (client) => log.debug({ client: client.id }, 'client disconnected'));
  aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'client error'));
  aedes.on('connectionError', (client, err) => log.warn({ client: client?.id, err: err.message }, 'connection error'));
}

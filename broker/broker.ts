/**
 * The embedded broker: aedes 1.x with a TCP and a WebSocket listener (and, with `tls`, their
 * mqtts and wss forms), plus the playback tracker. Everything binds to 127.0.0.1 by default; port 0 picks a free port (tests).
 * With `security` it authenticates clients against the registry and applies the ACL
 * (docs/SECURITY.md); without it, it is open, as it was before security existed.
 */
import { Aedes, type AedesOptions, type AuthenticateError } from 'aedes';
import {
  listenTcp,
  listenTls,
  listenWebSocket,
  type ConnectionGuard,
  type Listener,
  type TlsListenOptions,
} from './listeners.ts';
import { ConnectionGate, LogThrottle, guardPacketSize, resolveLimits, type Limits } from './limits.ts';
import { PlaybackTracker } from './tracker.ts';
import { Authenticator, forgetRefusedSubscriptions, remoteAddress } from './auth.ts';
import { Sessions } from './sessions.ts';
import { openRegistry, type Registry } from './registry.ts';
import { ensureBackendCredentials } from './credentials.ts';
import { loadOrCreateBackendKeys } from './backend-keys.ts';
import { brokerDir } from './data-dir.ts';
import { openPersistence } from './persistence.ts';
import { startNotificationService, type NotificationService, type ServiceOptions } from './service.ts';
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
  /**
   * Resource limits (broker/limits.ts); `{}` takes DEFAULT_LIMITS, fields override them.
   * Omitted or false: aedes's own defaults and no rate limit, as before limits existed
   * (`payspeaker broker` always passes them).
   */
  limits?: Partial<Limits> | false;
  /** The clock the connection-rate limit and the log throttle use (tests). */
  now?: () => number;
  /** Also listen for MQTT over TLS and over secure WebSocket (broker/tls.ts makes the certificate). */
  tls?: BrokerTlsOptions;
  /** `memory` (default) or a Redis URL: where sessions and retained messages live (broker/persistence.ts). */
  persistence?: string;
  /** A Redis URL several broker processes share: sessions, retained messages and every publish. */
  cluster?: string;
  /**
   * The notification service (broker/service.ts): the durable payment outbox, its dispatcher
   * and the HTTP API. Omitted: none, as before it existed (`payspeaker broker` always starts it).
   */
  service?: ServiceOptions;
}

export interface BrokerTlsOptions {
  /** The server certificate (PEM; may include intermediates) and its private key (PEM). */
  cert: string;
  key: string;
  /** mqtts port; 0 picks a free port. Default 8883. */
  port?: number;
  /** wss port; 0 picks a free port, null disables it. Default 8443. */
  wssPort?: number | null;
}

export interface RunningBroker {
  readonly aedes: Aedes;
  readonly tracker: PlaybackTracker;
  readonly mqttUrl: string;
  readonly wsUrl: string | null;
  /** mqtts://… when started with `tls`, else null. */
  readonly mqttsUrl: string | null;
  /** wss://…/mqtt when started with `tls` (and a wss port), else null. */
  readonly wssUrl: string | null;
  /** The device registry in secure mode, else null. */
  readonly registry: Registry | null;
  /** The notification service when started with `service`, else null. */
  readonly service: NotificationService | null;
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<RunningBroker> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? silentLogger;
  const limits = opts.limits === undefined || opts.limits === false ? null : resolveLimits(opts.limits);
  const now = opts.now ?? Date.now;
  const throttle = new LogThrottle(1000, now);
  const security = setUpSecurity(opts.security, log);
  const hooks = limits ? withLimits(security?.hooks ?? {}, limits, log, throttle) : security?.hooks;
  const store = await openPersistence({ persistence: opts.persistence, cluster: opts.cluster, log }).catch(
    (err) => (security?.stop(), Promise.reject(err)),
  );
  const aedes = await Aedes.createBroker({ ...hooks, ...store.aedesOptions }).catch((err) =>
    store.close().then(() => (security?.stop(), Promise.reject(err))),
  );
  store.watch(aedes);
  security?.start(aedes);
  const tracker = new PlaybackTracker(log);
  await tracker.attach(aedes);
  logClientEvents(aedes, log, throttle);
  const guard = limits ? connectionGuard(limits, log, throttle, now) : undefined;

  const listeners: Listener[] = [];
  let service: NotificationService | null = null;
  const shutDown = async () => {
    await service?.close();
    await closeAll(aedes, listeners);
    security?.stop();
    await store.close();
  };
  let tcp: Listener,
    ws: Listener | null = null,
    mqtts: Listener | null = null,
    wss: Listener | null = null;
  const add = (l: Listener) => (listeners.push(l), l);
  try {
    tcp = add(await listenTcp(aedes, host, opts.port ?? 1883, guard));
    if (opts.wsPort !== null) ws = add(await listenWebSocket(aedes, host, opts.wsPort ?? 8080, guard));
    if (opts.tls) {
      const tlsOpts: TlsListenOptions = {
        cert: opts.tls.cert,
        key: opts.tls.key,
        onHandshakeError: handshakeLogger(log, throttle),
      };
      mqtts = add(await listenTls(aedes, host, opts.tls.port ?? 8883, tlsOpts, guard));
      if (opts.tls.wssPort !== null)
        wss = add(await listenWebSocket(aedes, host, opts.tls.wssPort ?? 8443, guard, tlsOpts));
    }
    if (opts.service)
      service = await startNotificationService(
        { clustered: Boolean(opts.cluster), ...opts.service },
        { aedes, tracker, registry: security?.registry ?? null, host, log },
      );
  } catch (err) {
    await shutDown();
    throw err;
  }
  log.info(
    {
      mqtt: tcp.url,
      ws: ws?.url ?? null,
      ...(opts.tls && { mqtts: mqtts?.url ?? null, wss: wss?.url ?? null }),
      ...(opts.security && { security: opts.security.mode }),
      persistence: store.describe,
      ...(service && { http: service.httpUrl }),
      ...(limits && { limits }),
    },
    'broker listening',
  );

  let closing: Promise<void> | null = null;
  return {
    aedes,
    tracker,
    mqttUrl: tcp.url,
    wsUrl: ws?.url ?? null,
    mqttsUrl: mqtts?.url ?? null,
    wssUrl: wss?.url ?? null,
    registry: security?.registry ?? null,
    service,
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
    log.warn(
      'INSECURE: anonymous clients may connect, and anyone may publish payment notifications to any speaker; use only on a trusted machine',
    );
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

/**
 * The aedes options for `limits`, around the security hooks (if any). aedes checks client-id
 * length only for MQTT 3.1, so authenticate does it for every version, with CONNACK 2.
 */
function withLimits(hooks: AedesOptions, limits: Limits, log: Logger, throttle: LogThrottle): AedesOptions {
  const authenticate = hooks.authenticate ?? ((_client, _username, _password, done) => done(null, true));
  return {
    ...hooks,
    maxTopicLevels: limits.maxTopicLevels,
    maxClientsIdLength: limits.maxClientIdLength,
    maxInflightInbound: limits.maxInflightInbound,
    queueLimit: limits.queueLimit,
    connectTimeout: limits.connectTimeoutMs,
    authenticate: (client, username, password, done) => {
      if (client.id.length <= limits.maxClientIdLength) return authenticate(client, username, password, done);
      const address = remoteAddress(client);
      const count = throttle.note(`client-id:${address}`);
      if (count !== null) {
        log.warn(
          { address, length: client.id.length, refused: count },
          `refused ${count} connection(s) from ${address}: client id longer than ${limits.maxClientIdLength} characters`,
        );
      }
      done(Object.assign(new Error('client id too long'), { returnCode: 2 }) as AuthenticateError, false);
    },
  };
}

/** The per-address rate limit and packet-size cap the listeners apply; each logs at most once a second per address. */
function connectionGuard(limits: Limits, log: Logger, throttle: LogThrottle, now: () => number): ConnectionGuard {
  const rate = limits.connectRate;
  const gate = rate ? new ConnectionGate(rate, now) : null;
  return {
    maxWsPayload: limits.maxPacketBytes || undefined,
    admit: (address) => {
      if (!gate || gate.admit(address)) return true;
      const count = throttle.note(`rate:${address}`);
      if (count !== null) {
        log.warn(
          { address, refused: count },
          `refused ${count} connection attempt(s) from ${address}: more than ${rate!.perSecond}/s (burst ${rate!.burst})`,
        );
      }
      return false;
    },
    guard: (stream, address) =>
      guardPacketSize(stream, limits.maxPacketBytes, (verdict) => {
        const count = throttle.note(`size:${address}`);
        if (count === null) return;
        const why =
          verdict.reason === 'too-large'
            ? `a ${verdict.declared}-byte packet exceeds the ${limits.maxPacketBytes}-byte limit`
            : 'malformed packet length';
        log.warn({ address, dropped: count }, `dropped ${count} connection(s) from ${address}: ${why}`);
      }),
  };
}

/**
 * A client that gives up during the TLS handshake — typically a device that does not trust our
 * CA, or that dialled a name the certificate does not carry — says so only with an alert; one
 * line a second per address.
 */
function handshakeLogger(
  log: Logger,
  throttle: LogThrottle,
): (address: string, err: Error & { code?: string }) => void {
  return (address, err) => {
    const count = throttle.note(`tls:${address}`);
    if (count === null) return;
    const hint = /unknown ca|bad certificate|certificate unknown|socket hang up|ECONNRESET/i.test(
      `${err.code ?? ''} ${err.message}`,
    )
      ? ': the client hung up mid-handshake, usually because it does not trust our certificate (give it DIR/certs/ca.pem; check the host name it dials is in the certificate)'
      : '';
    log.warn(
      { address, err: err.message, failed: count },
      `TLS handshake with ${address} failed${count > 1 ? ` (${count} since the last line)` : ''}${hint}`,
    );
  };
}

function logClientEvents(aedes: Aedes, log: Logger, throttle: LogThrottle): void {
  aedes.on('client', (client) => log.debug({ client: client.id }, 'client connected'));
  aedes.on('clientDisconnect', (client) => log.debug({ client: client.id }, 'client disconnected'));
  aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'client error'));
  // Garbage bytes, early hang-ups and refused CONNECTs all land here: one line a second per address.
  aedes.on('connectionError', (client, err) => {
    const address = client ? remoteAddress(client) : 'unknown address';
    const count = throttle.note(`error:${address}`);
    if (count !== null)
      log.warn(
        { client: client?.id, address, err: err.message, errors: count },
        count > 1 ? `connection error (${count} from ${address} since the last line)` : 'connection error',
      );
  });
}

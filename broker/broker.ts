/**
 * The embedded broker: aedes 1.x with a TCP and a WebSocket listener (and, with `tls`, their
 * mqtts and wss forms), plus the playback tracker. Everything binds to 127.0.0.1 by default; port 0 picks a free port (tests).
 * With `security` it authenticates clients against the registry and applies the ACL
 * (docs/SECURITY.md); without it, it is open, as it was before security existed.
 */
import tls from 'node:tls';
import { Aedes, type AedesOptions, type AuthenticateError } from 'aedes';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  listenTcp,
  listenTls,
  listenWebSocket,
  type ConnectionGuard,
  type Listener,
  type TlsListener,
  type TlsListenOptions,
  type WebSocketListenOptions,
} from './listeners.ts';
import { OriginPolicy, ownHttpOrigins } from './origins.ts';
import type { ServerTls } from './tls.ts';
import { ConnectionGate, LogThrottle, guardPacketSize, resolveLimits, type Limits } from './limits.ts';
import { PlaybackTracker } from './tracker.ts';
import { Authenticator, forgetRefusedSubscriptions, remoteAddress } from './auth.ts';
import { Sessions } from './sessions.ts';
import { openRegistry, type Registry } from './registry.ts';
import { ensureBackendCredentials } from './credentials.ts';
import { loadOrCreateBackendKeys } from './backend-keys.ts';
import { withAckIntake } from './ack-intake.ts';
import { startClockService } from './clock-service.ts';
import { brokerDir } from './data-dir.ts';
import { openPersistence } from './persistence.ts';
import { startNotificationService, type NotificationService, type ServiceOptions } from './service.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { signTimeAnswer } from '../src/protocol/index.ts';

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
  /**
   * A connection that has not finished its TLS handshake (mqtts, wss), or made its WebSocket
   * upgrade request (ws, wss), within this time is closed. Default 10 s.
   */
  handshakeTimeoutMs?: number;
  /**
   * Browser origins (`http(s)://host[:port]`) whose pages may open a WebSocket connection, besides
   * the broker's own HTTP API origin; `*` allows any. An upgrade with another `Origin` header gets
   * 403; one without (every non-browser client) is accepted. broker/origins.ts.
   */
  wsOrigins?: readonly string[];
  /** With `tls`: do not open the plain MQTT and ws listeners; mqttUrl is then the mqtts URL. */
  tlsOnly?: boolean;
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
  /** mqtt://… ; with `tlsOnly`, where there is no plain listener, the mqtts://… URL. */
  readonly mqttUrl: string;
  /** True when started with `tlsOnly`: no plain MQTT or ws listener is open. */
  readonly tlsOnly: boolean;
  readonly wsUrl: string | null;
  /** mqtts://… when started with `tls`, else null. */
  readonly mqttsUrl: string | null;
  /** wss://…/mqtt when started with `tls` (and a wss port), else null. */
  readonly wssUrl: string | null;
  /** The device registry in secure mode, else null. */
  readonly registry: Registry | null;
  /** The notification service when started with `service`, else null. */
  readonly service: NotificationService | null;
  /**
   * Serves a new certificate and key on the mqtts and wss listeners: new handshakes use it,
   * established connections keep theirs. Throws (and keeps the old one) if the pair is unusable
   * or the broker has no TLS.
   */
  reloadTls(pems: ServerTls): void;
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<RunningBroker> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.tlsOnly && !opts.tls)
    throw new Error('tlsOnly needs tls: without a certificate the broker would have no listener at all');
  const origins = new OriginPolicy(opts.wsOrigins ?? []);
  const log = opts.log ?? silentLogger;
  const limits = opts.limits === undefined || opts.limits === false ? null : resolveLimits(opts.limits);
  const now = opts.now ?? Date.now;
  const throttle = new LogThrottle(1000, now);
  const security = setUpSecurity(opts.security, log);
  // A device's ack is committed to the outbox before aedes PUBACKs it (ack-intake.ts); `service`
  // is made below, and is only asked once clients publish.
  const hooks = withAckIntake(
    limits ? withLimits(security?.hooks ?? {}, limits, log, throttle) : security?.hooks,
    () => (service ? service.ackIntake : null),
  );
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
  let stopClock = () => {};
  const shutDown = async () => {
    stopClock();
    await service?.close();
    await closeAll(aedes, listeners);
    security?.stop();
    await store.close();
  };
  let tcp: Listener | null = null,
    ws: Listener | null = null,
    mqtts: TlsListener | null = null,
    wss: Listener | null = null;
  const secure: TlsListener[] = [];
  const add = <L extends Listener>(l: L) => (listeners.push(l), l);
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const wsOpts: WebSocketListenOptions = {
    upgradeTimeoutMs: handshakeTimeoutMs,
    origins,
    onRefused: webSocketRefusalLogger(log, throttle, handshakeTimeoutMs),
  };
  try {
    if (!opts.tlsOnly) {
      tcp = add(await listenTcp(aedes, host, opts.port ?? 1883, guard));
      if (opts.wsPort !== null) ws = add(await listenWebSocket(aedes, host, opts.wsPort ?? 8080, guard, wsOpts));
    }
    if (opts.tls) {
      const tlsOpts: TlsListenOptions = {
        cert: opts.tls.cert,
        key: opts.tls.key,
        handshakeTimeoutMs,
        onHandshakeError: handshakeLogger(log, throttle),
      };
      mqtts = add(await listenTls(aedes, host, opts.tls.port ?? 8883, tlsOpts, guard));
      secure.push(mqtts);
      if (opts.tls.wssPort !== null) {
        const l = add(await listenWebSocket(aedes, host, opts.tls.wssPort ?? 8443, guard, { ...wsOpts, tls: tlsOpts }));
        if (l.setSecureContext) secure.push(l as TlsListener);
        wss = l;
      }
    }
    // Time for speakers whose clock lost power (clock-service.ts), signed with the backend key
    // wherever this broker has one (secure mode, or the notification service's data dir).
    const keyDir = opts.security?.mode === 'secure' ? opts.security.dataDir : opts.service?.dataDir;
    const timeKey = keyDir ? loadOrCreateBackendKeys(brokerDir(keyDir)).privateKey : null;
    stopClock = startClockService(aedes, { sign: timeKey ? (a) => signTimeAnswer(a, timeKey) : undefined, log });
    if (opts.service)
      service = await startNotificationService(
        { clustered: Boolean(opts.cluster), ...opts.service },
        { aedes, tracker, registry: security?.registry ?? null, host, log },
      );
    // A web console served by the broker's own HTTP port may open WebSocket connections.
    if (service?.httpUrl) for (const o of ownHttpOrigins(service.httpUrl)) origins.allow(o);
  } catch (err) {
    await shutDown();
    throw err;
  }
  const mqttUrl = tcp?.url ?? mqtts!.url;
  log.info(
    {
      mqtt: tcp?.url ?? null,
      ws: ws?.url ?? null,
      ...(opts.tlsOnly && { tlsOnly: true }),
      wsOrigins: origins.list(),
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
    mqttUrl,
    tlsOnly: Boolean(opts.tlsOnly),
    wsUrl: ws?.url ?? null,
    mqttsUrl: mqtts?.url ?? null,
    wssUrl: wss?.url ?? null,
    registry: security?.registry ?? null,
    service,
    reloadTls: (pems) => {
      if (secure.length === 0) throw new Error('this broker has no TLS listener to reload');
      // Build it once first: a bad pair throws here, before any listener has changed.
      tls.createSecureContext({ cert: pems.cert, key: pems.key });
      for (const l of secure) l.setSecureContext(pems);
    },
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

/** Upgrades refused for their Origin, and connections closed for never upgrading: one line a second per address. */
function webSocketRefusalLogger(
  log: Logger,
  throttle: LogThrottle,
  timeoutMs: number,
): NonNullable<WebSocketListenOptions['onRefused']> {
  return (address, why, detail) => {
    const count = throttle.note(`ws-${why}:${address}`);
    if (count === null) return;
    const times = count > 1 ? ` (${count} since the last line)` : '';
    if (why === 'origin')
      log.warn(
        { address, origin: detail, refused: count },
        `refused a WebSocket upgrade from ${address}${times}: a browser page at ${detail} may not connect (allow it with --ws-origin ${detail})`,
      );
    else
      log.warn(
        { address, closed: count },
        `closed a WebSocket connection from ${address}${times}: no upgrade request within ${timeoutMs} ms`,
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

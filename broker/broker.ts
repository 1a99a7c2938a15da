/**
 * The embedded broker: aedes 1.x with a TCP and a WebSocket listener (and, with `tls`, their
 * mqtts and wss forms), plus the playback tracker. Everything binds to 127.0.0.1 by default; port 0 picks a free port (tests).
 * With `security` it authenticates clients against the registry and applies the ACL
 * (docs/SECURITY.md); without it, it is open, as it was before security existed.
 *
 * This file is the wiring (startBroker) and the security set-up; how the limits are applied is
 * broker-limits.ts, and the log lines about clients and refused connections are broker-logs.ts.
 */
import tls from 'node:tls';
import type { KeyObject } from 'node:crypto';
import { Aedes, type AedesOptions } from 'aedes';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  listenTcp,
  listenTls,
  listenWebSocket,
  type Listener,
  type TlsListener,
  type TlsListenOptions,
  type WebSocketListenOptions,
} from './listeners.ts';
import { OriginPolicy, ownHttpOrigins } from './origins.ts';
import type { ServerTls } from './tls.ts';
import { LogThrottle, resolveLimits, type Limits } from './limits.ts';
import { connectionGuard, withLimits } from './broker-limits.ts';
import { handshakeLogger, logClientEvents, webSocketRefusalLogger } from './broker-logs.ts';
import { PlaybackTracker } from './tracker.ts';
import { Authenticator, forgetRefusedSubscriptions } from './auth.ts';
import { Sessions } from './sessions.ts';
import { openRegistry, type Registry } from './registry.ts';
import { ensureBackendCredentials } from './credentials.ts';
import { loadOrCreateBackendKeys } from './backend-keys.ts';
import { withAckIntake } from './ack-intake.ts';
import { startClockService } from './clock-service.ts';
import { brokerDir } from './data-dir.ts';
import { openPersistence } from './persistence.ts';
import { startNotificationService, type NotificationService, type ServiceOptions } from './service.ts';
import type { MqttEndpoints } from './http/info.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { signTimeAnswer } from '../src/protocol/signing-node.ts';

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
  /**
   * The backend key that signs time answers when there is no data directory to load it from:
   * a fleet's embedded broker, whose speakers trust the key made for the run (otherwise they
   * refuse the unsigned answers and ask again and again, 10,000 at a time).
   */
  timeKey?: KeyObject;
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
    const timeKey = keyDir ? loadOrCreateBackendKeys(brokerDir(keyDir)).privateKey : (opts.timeKey ?? null);
    stopClock = startClockService(aedes, { sign: timeKey ? (a) => signTimeAnswer(a, timeKey) : undefined, log });
    if (opts.service) {
      // GET /v1/info shows the listeners: service.ts hands these parts on to the HTTP API as its fleet (FleetView.mqtt).
      const mqtt: MqttEndpoints = {
        tcp: tcp?.url ?? null,
        ws: ws?.url ?? null,
        tls: mqtts?.url ?? null,
        wss: wss?.url ?? null,
      };
      const parts = { aedes, tracker, registry: security?.registry ?? null, host, log, mqtt };
      service = await startNotificationService({ clustered: Boolean(opts.cluster), ...opts.service }, parts);
    }
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

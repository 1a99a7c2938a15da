/**
 * Where the broker keeps its state, and how broker processes share publishes (docs/CLUSTER.md):
 *
 *   memory (default)         aedes's own in-memory persistence: gone when the process stops.
 *   --persistence redis://…  aedes-persistence-redis: subscriptions of clean:false sessions, the
 *                            QoS 1 messages queued for them, retained messages and wills survive
 *                            a broker restart.
 *   --cluster redis://…      the same, plus mqemitter-redis, so every broker process sharing the
 *                            Redis sees every publish (a device on one, the backend on another).
 *
 * The ioredis connections (one for the persistence, two more for the emitter) are made here, not
 * by the libraries, so that a Redis that is down at start is a clear error within a bounded time
 * instead of an endless retry, an outage later is logged instead of crashing the broker, and
 * close() always ends every connection.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Aedes } from 'aedes';
import type * as IORedis from 'ioredis';
import type { Redis as RedisConnection, RedisOptions } from 'ioredis';
import { memoryPersistence } from './memory-persistence.ts';
import { silentLogger, type Logger } from '../src/log.ts';

// Both libraries are CommonJS without types; ioredis is loaded from where aedes-persistence-redis
// resolves it, so the connections handed to it are of the class it was written against.
const require = createRequire(import.meta.url);
const redisPersistence = require('aedes-persistence-redis') as (opts: { conn: RedisConnection }) => RedisPersistence;
const mqemitterRedis = require('mqemitter-redis') as (opts: Record<string, unknown>) => RedisEmitter;
const { Redis } = createRequire(require.resolve('aedes-persistence-redis'))('ioredis') as typeof IORedis;

interface RedisPersistence {
  addSubscriptions(client: unknown, subs: object[]): Promise<unknown>;
}
interface RedisEmitter {
  /** mqemitter-redis re-emits connection errors here; with no listener the EventEmitter would throw. */
  state: NodeJS.EventEmitter;
  closing?: boolean;
  closed?: boolean;
  close(cb: () => void): void;
}

export const DEFAULT_REDIS_PORT = 6379;
/** How long a broker waits for Redis at start before giving up. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 2000;
const USAGE = 'use "memory" or redis://[user:password@]host[:port][/db] (rediss:// for TLS)';

export type StoreFlag = '--persistence' | '--cluster';

/** A --persistence or --cluster value that cannot be used; the message says which and why. */
export class PersistenceConfigError extends Error {
  override name = 'PersistenceConfigError';
}

/** Redis could not be used at start: refused, unknown host, wrong password, bad db, no answer. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export interface RedisTarget {
  /** Normalised, with the password masked: safe for logs and errors. */
  url: string;
  options: RedisOptions;
}

/** `memory`, or the Redis a URL names. Throws PersistenceConfigError naming the flag and the value. */
export function parseStoreUrl(text: string, flag: StoreFlag): RedisTarget | 'memory' {
  const value = text.trim();
  if (value.toLowerCase() === 'memory') return 'memory';
  const bad = (why: string) =>
    new PersistenceConfigError(`${flag} ${JSON.stringify(maskPassword(value))} ${why}: ${USAGE}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('is not a URL');
  }
  if (!value.includes('://')) throw bad('is not a URL'); // "localhost:6379" parses, as scheme "localhost:"
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw bad(`uses ${url.protocol}//, which payspeaker cannot store sessions in`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw bad('names no host');
  const port = url.port === '' ? DEFAULT_REDIS_PORT : Number(url.port);
  if (port === 0) throw bad('has port 0');
  const dbText = url.pathname.replace(/^\//, '');
  if (!/^\d{0,5}$/.test(dbText))
    throw bad(`has ${JSON.stringify(url.pathname)} where the database number goes (e.g. /0)`);
  if (url.search || url.hash) throw bad('has a query or fragment, which payspeaker does not read');
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (username && !password) throw bad(`names user ${JSON.stringify(username)} but no password`);
  const db = Number(dbText || 0);
  const tls = url.protocol === 'rediss:' ? { servername: net.isIP(host) ? undefined : host } : undefined;
  const auth = username ? `${username}:***@` : password ? ':***@' : '';
  return {
    url: `${url.protocol}//${auth}${net.isIPv6(host) ? `[${host}]` : host}:${port}/${db}`,
    options: { host, port, db, ...(username && { username }), ...(password && { password }), ...(tls && { tls }) },
  };
}

export interface PersistenceOptions {
  /** `memory` (the default) or a Redis URL. */
  persistence?: string;
  /** A Redis URL shared by every broker process of the cluster; implies Redis persistence. */
  cluster?: string;
  log?: Logger;
  /** How long to wait for Redis at start. Default 5 s. */
  connectTimeoutMs?: number;
}

export interface BrokerStore {
  /** Merged into the options of Aedes.createBroker. */
  readonly aedesOptions: { persistence?: unknown; mq?: unknown; id?: string };
  /** For the 'broker listening' line: memory, or where and how Redis is used. */
  readonly describe: string;
  /** Logs the errors aedes raises when Redis fails mid-run; unheard, they would crash the process. */
  watch(aedes: Aedes): void;
  /** Ends every Redis connection; call after aedes has closed (it still writes while clients go). */
  close(): Promise<void>;
}

const memoryStore = (): BrokerStore => ({
  aedesOptions: { persistence: memoryPersistence() },
  describe: 'memory',
  watch: () => {},
  close: async () => {},
});

export async function openPersistence(opts: PersistenceOptions): Promise<BrokerStore> {
  const log = opts.log ?? silentLogger;
  const persistence = opts.persistence === undefined ? undefined : parseStoreUrl(opts.persistence, '--persistence');
  const cluster = opts.cluster === undefined ? undefined : parseStoreUrl(opts.cluster, '--cluster');
  if (cluster === 'memory')
    throw new PersistenceConfigError(`--cluster needs a Redis URL, got "memory": ${USAGE.replace('"memory" or ', '')}`);
  if (cluster && persistence === 'memory') {
    throw new PersistenceConfigError(
      '--persistence memory cannot be combined with --cluster: the brokers of a cluster keep their sessions in its Redis; drop --persistence',
    );
  }
  if (cluster && persistence && persistence !== 'memory' && persistence.url !== cluster.url) {
    throw new PersistenceConfigError(
      `--persistence ${persistence.url} and --cluster ${cluster.url} differ: a cluster keeps its sessions in the Redis it shares publishes through; drop --persistence`,
    );
  }
  const target = cluster ?? persistence;
  if (!target || target === 'memory') return memoryStore();

  // Never a fixed id: aedes-persistence-redis keys queued messages by broker id and a counter that
  // restarts at 0, so a restarted broker reusing its id would overwrite what it queued before.
  const id = `${os.hostname().replace(/[^A-Za-z0-9.-]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const link = new RedisLink(target, id, log, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const db = link.open('persistence');
  const pub = cluster ? link.open('publish') : null;
  const sub = cluster ? link.open('subscribe') : null;
  await link.ready(cluster ? '--cluster' : '--persistence');

  markFloatingWritesHandled(db, log);
  const store = subscribeOncePerPacket(redisPersistence({ conn: db }));
  // matchEmptyLevels: what aedes gives its own in-memory emitter ([MQTT-4.7.1-3]).
  const mq =
    pub && sub ? mqemitterRedis({ pubConn: pub, subConn: sub, matchEmptyLevels: true, concurrency: 100 }) : null;
  if (mq && pub && sub) {
    mq.state.on('error', () => {}); // each connection's errors are logged by the link
    // mqemitter-redis closes by QUIT and waiting for each connection's 'end'; ioredis never ends a
    // connection between reconnect attempts (QUIT there only cancels the retry), so while Redis is
    // down aedes.close() would wait forever. This close is bounded, then does what MQEmitter's does.
    mq.close = (cb) => {
      mq.closing = true;
      void link.quit([pub, sub]).then(() => ((mq.closed = true), setImmediate(cb)));
    };
  }
  let closing: Promise<void> | null = null;
  return {
    aedesOptions: { id, persistence: store, ...(mq && { mq }) },
    describe: cluster ? `cluster via ${target.url} (broker ${id})` : target.url,
    // aedes emits 'error' (not in its types) when the persistence fails outside a client's request,
    // e.g. the will sweep every 4 heartbeats while Redis is down.
    watch: (aedes) =>
      (aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) =>
        log.error({ err: err.message, redis: target.url }, `broker error (is Redis at ${target.url} reachable?)`),
      ),
    // Not store.destroy(): all it adds is an unsubscribe through the emitter aedes has closed,
    // which waits forever on a connection that is retrying.
    close: () =>
      (closing ??= (async () => {
        if (mq && !mq.closed) await new Promise<void>((resolve) => mq.close(resolve));
        await link.quit(); // QUIT answers after the writes aedes made while its clients went
      })()),
  };
}

/**
 * aedes-persistence-redis fires its will-list writes (LREM, RPUSH) without awaiting them. One
 * that fails — say, issued by a client going away just after our QUIT — would be an unhandled
 * rejection, which ends a Node process. Marked handled here; a caller that awaits one still sees
 * its error. A will-list entry lost this way is harmless: readers drop entries whose will is gone.
 */
function markFloatingWritesHandled(conn: RedisConnection, log: Logger): void {
  const commands = conn as unknown as Record<'lrem' | 'rpush', (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['lrem', 'rpush'] as const) {
    const command = commands[name].bind(conn);
    commands[name] = (...args) => {
      const reply = command(...args);
      reply.catch((err: Error) => log.debug({ err: err.message, command: name }, 'Redis write failed'));
      return reply;
    };
  }
}

/**
 * aedes 1.x stores a SUBSCRIBE's subscriptions once per topic, in parallel, each time with the
 * whole list. aedes-persistence-redis then waits for its own broadcast of the list, keyed by the
 * client and the first topic: the parallel waits overwrite each other and all but one never end,
 * so a client subscribing to two topics at once never gets its SUBACK (a speaker never comes
 * online). One store per SUBSCRIBE packet (aedes passes the same array each time) avoids it.
 */
function subscribeOncePerPacket(store: RedisPersistence): RedisPersistence {
  const add = store.addSubscriptions.bind(store);
  const stored = new WeakMap<object[], Promise<unknown>>();
  store.addSubscriptions = (client, subs) => {
    let done = stored.get(subs);
    if (!done) stored.set(subs, (done = add(client, subs)));
    return done;
  };
  return store;
}

/** The broker's ioredis connections to one Redis: opened together, watched together, ended together. */
class RedisLink {
  private readonly connections: RedisConnection[] = [];
  private readonly down = new Set<RedisConnection>();
  private downSince = 0;
  private closing = false;

  constructor(
    private readonly target: RedisTarget,
    private readonly brokerId: string,
    private readonly log: Logger,
    private readonly timeoutMs: number,
  ) {}

  open(role: string): RedisConnection {
    const conn = new Redis({
      ...this.target.options,
      lazyConnect: true,
      connectTimeout: this.timeoutMs,
      connectionName: `payspeaker-broker-${this.brokerId}-${role}`,
      enableAutoPipelining: role === 'publish',
    });
    this.connections.push(conn);
    return conn;
  }

  /** Resolves when every connection is ready; else ends them all and throws what went wrong. */
  async ready(flag: StoreFlag): Promise<void> {
    try {
      await withTimeout(Promise.all(this.connections.map(connectOnce)), this.timeoutMs);
    } catch (err) {
      this.disconnect();
      throw new RedisUnavailableError(
        `${flag} ${this.target.url}: ${unavailableHint(err as Error & { code?: string }, this.timeoutMs)}`,
      );
    }
    for (const conn of this.connections) this.watch(conn);
  }

  /** QUIT where Redis answers (bounded), disconnect elsewhere; either way no retry is left running. */
  async quit(connections = this.connections): Promise<void> {
    this.closing = true;
    await Promise.all(
      connections.map(async (conn) => {
        if (conn.status !== 'ready') return conn.disconnect();
        await withTimeout(
          conn.quit().catch(() => {}),
          CLOSE_TIMEOUT_MS,
        ).catch(() => conn.disconnect());
      }),
    );
  }

  disconnect(): void {
    this.closing = true;
    for (const conn of this.connections) conn.disconnect();
  }

  /** One warning when Redis goes away, one line when it is back; ioredis keeps retrying meanwhile. */
  private watch(conn: RedisConnection): void {
    conn.on('error', (err: Error) =>
      this.log.debug({ err: err.message, redis: this.target.url }, 'Redis connection error'),
    );
    conn.on('close', () => {
      if (this.closing || this.down.has(conn)) return;
      if (this.down.size === 0) {
        this.downSince = Date.now();
        this.log.warn(
          { redis: this.target.url },
          `lost the connection to Redis at ${this.target.url}; retrying (sessions, retained messages and cluster publishes wait until it is back)`,
        );
      }
      this.down.add(conn);
    });
    conn.on('ready', () => {
      if (!this.down.delete(conn) || this.down.size > 0) return;
      this.log.info(
        { redis: this.target.url, downMs: Date.now() - this.downSince },
        `Redis at ${this.target.url} is back`,
      );
    });
  }
}

/** Connects a lazy connection; the first error (refused, wrong password, bad db) fails it. */
function connectOnce(conn: RedisConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => (conn.off('ready', onReady), reject(err));
    const onReady = () => (conn.off('error', onError), resolve());
    conn.once('error', onError);
    conn.once('ready', onReady);
    conn.connect().catch(() => {}); // the same failure arrives as the error event
  });
}

function unavailableHint(err: Error & { code?: string }, timeoutMs: number): string {
  const m = err.message;
  if (err.code === 'ECONNREFUSED')
    return `nothing listens there (${m}): start redis-server (apt-get install redis-server) or fix the URL`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `the host name does not resolve (${m}): fix the URL`;
  if (err.code === 'ETIMEDOUT' || err.code === 'TIMEOUT')
    return `no answer within ${timeoutMs / 1000} s: check the host, the port and any firewall`;
  if (/NOAUTH/.test(m)) return `Redis wants a password (${m}): put it in the URL, redis://:PASSWORD@host:port`;
  if (/WRONGPASS|invalid password/i.test(m)) return `Redis refused the user name or password in the URL (${m})`;
  if (/DB index is out of range/.test(m))
    return `Redis has no such database (${m}): use a smaller /db number (16 by default: /0 to /15)`;
  return `cannot use Redis there (${m})`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: 'TIMEOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function maskPassword(value: string): string {
  return value.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/**
 * GET /v1/events: what changes, as it changes, as Server-Sent Events (text/event-stream) —
 * the web console's live lists, and `curl -N` for a script:
 *
 *   event: payment   data: {"payment": <as GET /v1/payments lists it, with its history>}
 *   event: device    data: {"device": <as GET /v1/devices lists it>}
 *   : keepalive      (a comment, every 15 s, so proxies and clients see the stream is alive)
 *
 * A payment event follows every committed change of a payment (Outbox.watchAll is fed after
 * the group commit, like `watch`); a device event follows a connect, a disconnect, a retained
 * state message or an ack (PlaybackTracker.onChange), coalesced per event-loop turn. Each is
 * serialized once and written to every stream that wants it (`?device=ID` keeps one device's).
 *
 * A client that does not read must not make the broker buffer without bound: a stream whose
 * unsent bytes stay over `maxBufferedBytes` for `slowClientMs` is dropped, with a warning, and
 * one over SLOW_CEILING times that at once is dropped at once. Not on the first excess: one
 * group commit of 2,000 payments is ~1.4 MB of events written in one go to every stream, which
 * a reading client takes in milliseconds but which is more than the kernel accepts at once.
 * The sources are only watched while a stream is open, so an API nobody streams from pays
 * nothing per change.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEVICE_ID_PATTERN } from '../../src/protocol/index.ts';
import type { Logger } from '../../src/log.ts';
import type { Outbox, Payment } from '../outbox/outbox.ts';
import { clip } from '../log-throttle.ts';
import { deviceView, invalidDevice, type FleetView } from './devices.ts';
import { queryParams, withHistory } from './payments.ts';
import type { ApiAuth } from './auth.ts';
import { ApiError } from './errors.ts';

export interface EventStreamOptions {
  /** How often an idle stream gets a `: keepalive` comment. Default 15 s. */
  keepaliveMs?: number;
  /** A stream with more unsent bytes than this for `slowClientMs` is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** How long a stream may stay over `maxBufferedBytes`. Default 10 s. */
  slowClientMs?: number;
}

export const KEEPALIVE_MS = 15_000;
export const MAX_BUFFERED_BYTES = 1024 * 1024;
export const SLOW_CLIENT_MS = 10_000;
/** Over this many times maxBufferedBytes a stream is dropped without waiting: the memory bound. */
export const SLOW_CEILING = 8;

interface Stream {
  res: ServerResponse;
  /** Only this device's events; null for all. */
  device: string | null;
  /** Since when its unsent bytes have been over the limit; null while under it. */
  overSince: number | null;
}

export class EventStreams {
  private readonly streams = new Set<Stream>();
  private readonly pendingDevices = new Set<string>();
  private readonly keepaliveMs: number;
  private readonly maxBufferedBytes: number;
  private readonly slowClientMs: number;
  private unwatch: (() => void) | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly fleet: FleetView,
    private readonly log: Logger,
    opts: EventStreamOptions = {},
  ) {
    this.keepaliveMs = opts.keepaliveMs ?? KEEPALIVE_MS;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
    this.slowClientMs = opts.slowClientMs ?? SLOW_CLIENT_MS;
  }

  /** How many streams are open. */
  get size(): number {
    return this.streams.size;
  }

  /** Takes the response over from fastify and keeps it open until the client or the server leaves. */
  open(req: FastifyRequest, reply: FastifyReply, device: string | null): void {
    if (this.closed)
      throw new ApiError(503, 'shutting-down', 'the broker is shutting down: connect again once it is back');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Tells a buffering reverse proxy (nginx) to pass each event on at once.
      'x-accel-buffering': 'no',
    });
    // Something to read at once: fetch() resolves and `curl -N` shows the stream is up.
    res.write(': connected\n\n');
    const stream: Stream = { res, device, overSince: null };
    this.streams.add(stream);
    res.on('close', () => this.drop(stream));
    // Emitted once everything written has gone out: the client caught up.
    res.on('drain', () => (stream.overSince = null));
    if (this.streams.size === 1) this.watch();
    this.log.debug({ remote: req.ip, device }, 'event stream opened');
  }

  /** Ends every stream (the server is closing) and stops watching. */
  close(): void {
    this.closed = true;
    for (const s of [...this.streams]) s.res.end();
    this.streams.clear();
    this.unwatchAll();
  }

  private watch(): void {
    const offPayments = this.outbox.watchAll((p) => this.onPayment(p));
    const offDevices = this.fleet.tracker.onChange((id) => this.onDevice(id));
    this.keepalive = setInterval(() => this.broadcast(null, ': keepalive\n\n'), this.keepaliveMs);
    this.keepalive.unref();
    this.unwatch = () => (offPayments(), offDevices());
  }

  private unwatchAll(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    this.unwatch?.();
    this.unwatch = null;
    this.pendingDevices.clear();
  }

  private drop(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    if (this.streams.size === 0) this.unwatchAll();
  }

  private onPayment(p: Payment): void {
    if (!this.wanted(p.device)) return;
    this.broadcast(p.device, frame('payment', { payment: withHistory(this.outbox, p) }));
  }

  /** A device's connect, state and ack often land in one turn: one event shows all of them. */
  private onDevice(id: string): void {
    if (!this.wanted(id)) return;
    if (this.pendingDevices.size === 0) setImmediate(() => this.flushDevices());
    this.pendingDevices.add(id);
  }

  private flushDevices(): void {
    const ids = [...this.pendingDevices];
    this.pendingDevices.clear();
    for (const id of ids) {
      if (this.streams.size === 0) return;
      const device = deviceView(this.fleet, this.outbox, id);
      if (device) this.broadcast(id, frame('device', { device }));
    }
  }

  private wanted(device: string): boolean {
    for (const s of this.streams) if (s.device === null || s.device === device) return true;
    return false;
  }

  /** Writes `chunk` to every stream that wants `device`'s events (every stream, for null). */
  private broadcast(device: string | null, chunk: string): void {
    for (const s of [...this.streams]) {
      if (device !== null && s.device !== null && s.device !== device) continue;
      if (!s.res.writable) continue;
      s.res.write(chunk);
      this.checkBacklog(s);
    }
  }

  /** Drops a stream whose client has not taken its events for too long (see the top of the file). */
  private checkBacklog(s: Stream): void {
    // writableLength counts what the response and its socket have not yet handed to the kernel.
    const buffered = s.res.writableLength;
    if (buffered <= this.maxBufferedBytes) {
      s.overSince = null;
      return;
    }
    const now = Date.now();
    s.overSince ??= now;
    if (now - s.overSince < this.slowClientMs && buffered <= SLOW_CEILING * this.maxBufferedBytes) return;
    this.log.warn(
      {
        remote: clip(s.res.req.socket.remoteAddress ?? 'unknown'),
        buffered,
        limit: this.maxBufferedBytes,
        forMs: now - s.overSince,
      },
      'dropped an event-stream client that does not read its events: it will have to reconnect',
    );
    this.drop(s);
    s.res.destroy();
  }
}

/** One SSE event. JSON.stringify escapes newlines, so the data is always one `data:` line. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function eventRoutes(app: FastifyInstance, streams: EventStreams, auth: ApiAuth): void {
  app.get<{ Querystring: Record<string, unknown> }>(
    '/v1/events',
    { onRequest: async (req) => auth(req) },
    async (req, reply) => {
      const { device } = queryParams(req.query, ['device'], 'GET /v1/events');
      if (device !== undefined && !DEVICE_ID_PATTERN.test(device)) throw invalidDevice(device, 'device');
      // A HEAD (which fastify derives from every GET) gets the headers, not a stream that never ends.
      if (req.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').send();
      streams.open(req, reply, device ?? null);
      return reply;
    },
  );
  // Before the server closes: end each stream cleanly, so the close does not wait on them.
  app.addHook('preClose', (done) => {
    streams.close();
    done();
  });
}

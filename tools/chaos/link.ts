/**
 * One proxied connection: the client's socket, a socket to the target, a pipe each way, and
 * the faults that can strike it. It never throws on socket errors: a side that fails or
 * closes is handled the way the other side's peer would see it on a real network.
 */
import net, { type Socket } from 'node:net';
import { Timers, type ChaosClock } from './clock.ts';
import type { Latency } from './faults.ts';
import type { FaultRandom } from './random.ts';
import { Pipe } from './pipe.ts';

/** How long a side we sent a FIN may stay half-open before it is closed for it. */
const LINGER_MS = 2000;

export interface LinkEnv {
  clock: ChaosClock;
  target: { host: string; port: number };
  /** The proxy-wide latency, used unless this connection has its own. */
  latency(): Latency;
  /** Two independent streams: one for this connection's faults, one for its jitter. */
  faultRandom: FaultRandom;
  jitterRandom: FaultRandom;
  delivered(direction: 'toTarget' | 'toClient', bytes: number): void;
  /** The target could not be reached (or closed before the connection was made). */
  targetUnreachable(link: Link, cause: string): void;
  closed(link: Link): void;
  /**
   * For the log: this connection's own black hole healed or its own latency window ran out
   * ('healed'), or a side closed during a black hole ('closed': it gave up on the dead link).
   */
  faultEnded(link: Link, kind: 'blackhole' | 'delay', lastedMs: number, how: 'healed' | 'closed', side?: Side): void;
}

export type Side = 'client' | 'target';

export class Link {
  readonly target: Socket;
  readonly openedAt: number;
  /** This connection's own seeded stream, for random faults that plan its future. */
  readonly random: FaultRandom;
  readonly closed: Promise<void>;
  private readonly timers: Timers;
  private readonly toTarget: Pipe;
  private readonly toClient: Pipe;
  private ownLatency: Latency | null = null;
  private cancelLatencyWindow: (() => void) | null = null;
  private darkUntil: number | null = null;
  /** When the current black hole began; null when there is none. */
  private darkFrom: number | null = null;
  /** The current black hole is the proxy's (every connection): the proxy reports its healing once. */
  private darkIsShared = false;
  /** The current black hole's end was told already (a side gave up on it). */
  private darkEndTold = false;
  private cancelHeal: (() => void) | null = null;
  private cut = false;
  private connected = false;
  /** Per side: gone, and whether it said goodbye with a FIN (clean) or not (abrupt). */
  private readonly gone: Partial<Record<Side, 'clean' | 'abrupt'>> = {};
  private readonly sawEnd: Partial<Record<Side, boolean>> = {};
  private lastError: string | null = null;

  constructor(
    readonly id: number,
    readonly client: Socket,
    private readonly env: LinkEnv,
  ) {
    this.openedAt = env.clock.now();
    this.random = env.faultRandom;
    this.timers = new Timers(env.clock);
    // The proxy must add no latency of its own: Nagle would hold small MQTT packets back.
    client.setNoDelay(true);
    this.target = net.connect({ host: env.target.host, port: env.target.port, noDelay: true });
    const pipeEnv = (direction: 'toTarget' | 'toClient') => ({
      clock: env.clock,
      timers: this.timers,
      latency: () => this.ownLatency ?? env.latency(),
      jitter: env.jitterRandom,
      delivered: (bytes: number) => env.delivered(direction, bytes),
      ended: () => this.lingerThenClose(direction === 'toTarget' ? this.target : this.client),
    });
    this.toTarget = new Pipe(client, this.target, pipeEnv('toTarget'));
    this.toClient = new Pipe(this.target, client, pipeEnv('toClient'));
    let settle!: () => void;
    this.closed = new Promise((resolve) => (settle = resolve));
    this.wire('client', client, this.toTarget, settle);
    this.wire('target', this.target, this.toClient, settle);
    this.target.once('connect', () => (this.connected = true));
  }

  get live(): boolean {
    return !this.gone.client || !this.gone.target;
  }

  /** Still open and not already being cut: a fault can strike it. */
  get faultable(): boolean {
    return this.live && !this.cut;
  }

  get blackholed(): boolean {
    return this.darkUntil !== null;
  }

  /** When the current black hole began (clock ms), or null. */
  get darkSince(): number | null {
    return this.darkFrom;
  }

  /** Runs `fn` after `ms` unless the connection has closed by then. */
  after(ms: number, fn: () => void): void {
    this.timers.after(ms, () => this.faultable && fn());
  }

  /** Both sides get a TCP RST (ECONNRESET). */
  reset(): void {
    this.cutWith((socket) => resetSocket(socket));
  }

  /** Both sides get a FIN: the connection just goes away. */
  drop(): void {
    this.cutWith((socket) => this.lingerThenClose(socket));
  }

  /**
   * Holds everything both ways for `ms`, or until the connection closes; a later end wins.
   * `shared`: part of a black hole on every connection, whose end the proxy reports.
   */
  blackhole(ms?: number, shared = false): void {
    if (this.cut) return;
    const until = ms === undefined ? Infinity : this.env.clock.now() + ms;
    if (this.darkUntil !== null && this.darkUntil >= until) return;
    if (this.darkUntil === null) {
      this.darkFrom = this.env.clock.now();
      this.darkIsShared = shared;
      this.darkEndTold = false;
    } else if (!shared) this.darkIsShared = false;
    this.darkUntil = until;
    this.toTarget.hold();
    this.toClient.hold();
    this.cancelHeal?.();
    this.cancelHeal = ms === undefined ? null : this.timers.after(ms, () => this.heal());
  }

  /** Ends a blackhole: what was held arrives late but in order, as TCP retransmission would deliver it. */
  heal(): void {
    if (this.darkUntil === null) return;
    const lastedMs = this.env.clock.now() - (this.darkFrom ?? this.env.clock.now());
    const report = !this.darkIsShared && !this.darkEndTold;
    this.darkUntil = null;
    this.darkFrom = null;
    this.cancelHeal?.();
    this.cancelHeal = null;
    this.toTarget.release();
    this.toClient.release();
    if (report) this.env.faultEnded(this, 'blackhole', lastedMs, 'healed');
    // A side that vanished without a FIN: its peer's TCP stack would answer the survivor with an RST.
    if (this.gone.client === 'abrupt' || this.gone.target === 'abrupt') this.reset();
  }

  /** This connection's own latency (null: the proxy's again), for `ms` or from now on. */
  setLatency(latency: Latency | null, ms?: number): void {
    this.cancelLatencyWindow?.();
    this.cancelLatencyWindow = null;
    this.ownLatency = latency;
    if (ms !== undefined)
      this.cancelLatencyWindow = this.timers.after(ms, () => {
        this.ownLatency = null;
        this.env.faultEnded(this, 'delay', ms, 'healed');
      });
  }

  /** Closes both sides at once (proxy shutdown), even a side still lingering after a drop. */
  destroy(): void {
    this.cutWith(() => {});
    this.client.destroy();
    this.target.destroy();
  }

  private cutWith(end: (socket: Socket) => void): void {
    if (this.cut) return;
    this.cut = true;
    this.toTarget.close();
    this.toClient.close();
    if (!this.client.destroyed) end(this.client);
    if (!this.target.destroyed) end(this.target);
  }

  private wire(side: Side, socket: Socket, outbound: Pipe, settle: () => void): void {
    socket.on('data', (chunk: Buffer) => outbound.carry(chunk));
    socket.on('end', () => {
      this.sawEnd[side] = true;
      outbound.finish();
    });
    // Every socket error (ECONNREFUSED, ECONNRESET, EPIPE) ends up as a close, handled below.
    socket.on('error', (err: NodeJS.ErrnoException) => (this.lastError = err.code ?? err.message));
    socket.on('close', () => {
      this.gone[side] = this.sawEnd[side] ? 'clean' : 'abrupt';
      (side === 'client' ? this.toClient : this.toTarget).close();
      if (!this.live) {
        this.timers.cancelAll();
        this.env.closed(this);
        settle();
        return;
      }
      this.sideClosed(side);
    });
  }

  private sideClosed(side: Side): void {
    if (this.cut) return;
    // The moment a keep-alive gives up on a dead link: worth a line in a chaos run's log.
    if (this.darkFrom !== null && !this.darkEndTold) {
      this.darkEndTold = true;
      this.env.faultEnded(this, 'blackhole', this.env.clock.now() - this.darkFrom, 'closed', side);
    }
    if (side === 'target' && !this.connected) {
      this.env.targetUnreachable(this, this.lastError ?? 'closed before connecting');
      return this.drop();
    }
    // Held until the blackhole heals; with no end in sight, nothing would ever heal it.
    if (this.darkUntil === Infinity) return this.reset();
    if (this.darkUntil !== null) return;
    // A FIN is already on its way through the pipe; an RST is passed on as an RST.
    if (this.gone[side] === 'abrupt') this.reset();
  }

  /** After our FIN, a peer gets LINGER_MS to close its side before we close it for it. */
  private lingerThenClose(socket: Socket): void {
    if (socket.writable) socket.end();
    const timer = this.timers.after(LINGER_MS, () => socket.destroy());
    socket.once('close', timer);
  }
}

/** An RST now; a socket still connecting has nothing to reset and is just closed. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

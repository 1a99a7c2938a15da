/**
 * A TCP fault proxy between devices and the broker: it forwards every connection to the
 * target and injects faults into them — reset, drop, blackhole, delay, refuse — on command,
 * on a schedule, or at random from a seed. For tests (`startFaultProxy`) and the CLI
 * (`payspeaker chaos`). What each fault does on the wire: faults.ts and link.ts.
 */
import type { Socket } from 'node:net';
import { silentLogger, type Logger } from '../../src/log.ts';
import { systemClock, Timers, type ChaosClock } from './clock.ts';
import {
  describeFault,
  FAULT_KINDS,
  NO_LATENCY,
  type Fault,
  type FaultCause,
  type FaultEvent,
  type FaultKind,
  type FaultTarget,
  type Latency,
  type RandomFaults,
} from './faults.ts';
import { FaultLog, type FaultEnd } from './fault-log.ts';
import { Link } from './link.ts';
import { Listener } from './listener.ts';
import { armRandomFaults, checkRandomFaults } from './random-faults.ts';
import { FaultRandom, randomSeed } from './random.ts';
import { parseSchedule, runSchedule, type ScheduleStep } from './schedule.ts';

export type { Fault, FaultEnd, FaultEvent, FaultKind, FaultTarget, Latency, RandomFaults, ScheduleStep };
export type { FaultProxy, FaultProxyOptions, LinkInfo, ProxyStats } from './proxy-types.ts';
import type { FaultProxy, FaultProxyOptions, LinkInfo, ProxyStats } from './proxy-types.ts';

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  if (opts.random) checkRandomFaults(opts.random);
  const schedule = opts.schedule ? parseSchedule(opts.schedule) : [];
  const proxy = new RunningFaultProxy(opts, schedule);
  await proxy.start();
  return proxy;
}

class RunningFaultProxy implements FaultProxy {
  readonly seed: number;
  private readonly clock: ChaosClock;
  private readonly log: Logger;
  private readonly faultLog: FaultLog;
  private readonly timers: Timers;
  private readonly listener: Listener;
  /** Forked first, before any connection's streams, so 'one' picks do not depend on traffic. */
  private readonly pickRandom: FaultRandom;
  private readonly rootRandom: FaultRandom;
  private readonly live = new Map<number, Link>();
  private startedAt = 0;
  private nextId = 1;
  private closing = false;
  private baseLatency: Latency;
  private windowLatency: Latency | null = null;
  private cancelLatencyWindow: (() => void) | null = null;
  private darkUntil: number | null = null;
  /** When the black hole on every connection began. */
  private darkFrom = 0;
  private cancelHealAll: (() => void) | null = null;
  private cancelResume: (() => void) | null = null;
  /** When the listener stopped for a `refuse`; null while listening. */
  private refusedFrom: number | null = null;
  /** Connections struck by reset or drop, until they have closed: when and how. */
  private readonly cutLinks = new Map<number, { kind: 'reset' | 'drop'; at: number }>();
  private readonly counts = { accepted: 0, targetUnreachable: 0, toTarget: 0, toClient: 0 };
  private readonly faultCounts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;

  constructor(
    private readonly opts: FaultProxyOptions,
    private readonly schedule: readonly ScheduleStep[],
  ) {
    this.seed = opts.seed ?? randomSeed();
    this.rootRandom = FaultRandom.fromSeed(this.seed);
    this.pickRandom = this.rootRandom.fork();
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentLogger;
    this.timers = new Timers(this.clock);
    this.faultLog = new FaultLog(this.log, this.clock, this.timers);
    this.baseLatency = { ...NO_LATENCY, ...opts.latency };
    this.listener = new Listener(
      opts.host ?? '127.0.0.1',
      opts.port ?? 0,
      (socket) => this.accept(socket),
      (err) => this.log.error({ err: err.message }, 'fault proxy listener error'),
    );
  }

  get host(): string {
    return this.listener.host;
  }

  get port(): number {
    return this.listener.port;
  }

  get mqttUrl(): string {
    return `mqtt://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    await this.listener.start();
    this.startedAt = this.clock.now();
    runSchedule(this.schedule, this.timers, (fault, target) => this.strike(fault, target, 'schedule'));
  }

  inject(fault: Fault, target: FaultTarget = 'all'): FaultEvent | null {
    return this.strike(fault, target, 'manual');
  }

  resetAll(): FaultEvent {
    return this.strike({ kind: 'reset' }, 'all', 'manual')!;
  }

  dropAll(): FaultEvent {
    return this.strike({ kind: 'drop' }, 'all', 'manual')!;
  }

  blackhole(ms?: number): FaultEvent {
    return this.strike({ kind: 'blackhole', durationMs: ms }, 'all', 'manual')!;
  }

  heal(): void {
    const wasDark = this.darkUntil !== null;
    this.darkUntil = null;
    this.cancelHealAll?.();
    this.cancelHealAll = null;
    const healed = [...this.live.values()].filter((l) => l.blackholed).map((l) => l.id);
    for (const link of this.live.values()) link.heal();
    if (wasDark)
      this.ended({
        kind: 'blackhole',
        links: healed,
        scope: 'all',
        lastedMs: this.sinceMs(this.darkFrom),
        how: 'healed',
      });
  }

  setDelay(delayMs: number, jitterMs = 0): FaultEvent {
    return this.strike({ kind: 'delay', delayMs, jitterMs }, 'all', 'manual')!;
  }

  pause(ms?: number): FaultEvent {
    return this.strike({ kind: 'refuse', durationMs: ms }, 'all', 'manual')!;
  }

  async resume(): Promise<void> {
    this.cancelResume?.();
    this.cancelResume = null;
    if (this.closing) return;
    await this.listener.start();
    if (this.refusedFrom !== null) {
      const lastedMs = this.sinceMs(this.refusedFrom);
      this.refusedFrom = null;
      this.ended({ kind: 'refuse', links: [], scope: 'listener', lastedMs, how: 'healed' });
    }
  }

  links(): LinkInfo[] {
    return [...this.live.values()].map((l) => ({ id: l.id, openedAt: l.openedAt, blackholed: l.blackholed }));
  }

  stats(): ProxyStats {
    const c = this.counts;
    return {
      seed: this.seed,
      connections: { accepted: c.accepted, live: this.live.size, targetUnreachable: c.targetUnreachable },
      bytes: { toTarget: c.toTarget, toClient: c.toClient },
      faults: { ...this.faultCounts },
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Faults still running end with the proxy: said once for the proxy-wide ones, then the
    // lines held back by the throttle, before the timers (its summary's among them) go.
    if (this.darkUntil !== null)
      this.ended({
        kind: 'blackhole',
        links: [],
        scope: 'all',
        lastedMs: this.sinceMs(this.darkFrom),
        how: 'proxy-closed',
      });
    this.faultLog.flush();
    this.timers.cancelAll();
    this.listener.stop();
    const links = [...this.live.values()];
    for (const link of links) link.destroy();
    await Promise.all(links.map((l) => l.closed));
  }

  private accept(socket: Socket): void {
    if (this.closing) return void socket.destroy();
    const id = this.nextId++;
    this.counts.accepted++;
    // Two forks per connection, in accept order: its faults and its jitter never share draws.
    const link = new Link(id, socket, {
      clock: this.clock,
      target: this.opts.target,
      latency: () => this.windowLatency ?? this.baseLatency,
      faultRandom: this.rootRandom.fork(),
      jitterRandom: this.rootRandom.fork(),
      delivered: (direction, bytes) => (this.counts[direction] += bytes),
      targetUnreachable: (l, cause) => {
        this.counts.targetUnreachable++;
        const t = this.opts.target;
        this.log.warn(
          { link: l.id, cause },
          `cannot reach the target ${t.host}:${t.port} (${cause}): closed connection ${l.id}; is the broker running?`,
        );
      },
      closed: (l) => {
        this.live.delete(l.id);
        this.log.debug({ link: l.id }, `connection ${l.id} closed`);
        this.linkClosed(l);
      },
      faultEnded: (l, kind, lastedMs, how, side) =>
        this.ended({ kind, links: [l.id], scope: 'link', lastedMs, how, ...(side && { side }) }),
    });
    this.live.set(id, link);
    this.log.debug({ link: id, from: `${socket.remoteAddress}:${socket.remotePort}` }, `connection ${id} accepted`);
    if (this.darkUntil !== null)
      link.blackhole(this.darkUntil === Infinity ? undefined : this.darkUntil - this.clock.now(), true);
    if (this.opts.random)
      armRandomFaults(link, this.opts.random, (l, fault, afterMs) => this.strike(fault, l.id, 'random', afterMs));
  }

  private strike(fault: Fault, target: FaultTarget, cause: FaultCause, afterMs?: number): FaultEvent | null {
    if (this.closing) return null;
    if (fault.kind === 'refuse') {
      this.refuse(fault.durationMs);
      return this.record(fault, cause, 'listener', [], afterMs);
    }
    const victims = this.victims(target);
    if (victims === null) return null;
    const scope = target === 'all' ? 'all' : 'link';
    if (fault.kind === 'reset' || fault.kind === 'drop') {
      const at = this.clock.now();
      for (const l of victims) {
        this.cutLinks.set(l.id, { kind: fault.kind, at });
        if (fault.kind === 'reset') l.reset();
        else l.drop();
      }
    } else if (fault.kind === 'blackhole') {
      if (scope === 'all') this.blackholeAll(fault.durationMs);
      else victims[0]!.blackhole(fault.durationMs);
    } else {
      const latency = { delayMs: fault.delayMs, jitterMs: fault.jitterMs ?? 0 };
      if (scope === 'all') this.setLatency(latency, fault.durationMs);
      else victims[0]!.setLatency(latency, fault.durationMs);
    }
    return this.record(
      fault,
      cause,
      scope,
      victims.map((l) => l.id),
      afterMs,
    );
  }

  /** 'all': every live connection (maybe none); 'one' or an id: that one, or null when there is none. */
  private victims(target: FaultTarget): Link[] | null {
    const live = [...this.live.values()].filter((l) => l.faultable);
    if (target === 'all') return live;
    const link = target === 'one' ? live[this.pickRandom.below(live.length)] : live.find((l) => l.id === target);
    return link ? [link] : null;
  }

  private blackholeAll(ms?: number): void {
    const until = ms === undefined ? Infinity : this.clock.now() + ms;
    if (this.darkUntil === null) this.darkFrom = this.clock.now();
    if (this.darkUntil === null || until > this.darkUntil) {
      this.darkUntil = until;
      this.cancelHealAll?.();
      this.cancelHealAll = ms === undefined ? null : this.timers.after(ms, () => this.heal());
    }
    for (const link of this.live.values()) link.blackhole(ms, true);
  }

  /** A timed latency is a window over the standing one; an untimed one replaces the standing one. */
  private setLatency(latency: Latency, ms?: number): void {
    this.cancelLatencyWindow?.();
    this.cancelLatencyWindow = null;
    this.windowLatency = null;
    if (ms === undefined) this.baseLatency = latency;
    else {
      this.windowLatency = latency;
      this.cancelLatencyWindow = this.timers.after(ms, () => {
        this.windowLatency = null;
        this.ended({ kind: 'delay', links: [...this.live.keys()], scope: 'all', lastedMs: ms, how: 'healed' });
      });
    }
  }

  private refuse(ms?: number): void {
    this.refusedFrom ??= this.clock.now();
    this.listener.stop();
    this.cancelResume?.();
    this.cancelResume =
      ms === undefined
        ? null
        : this.timers.after(
            ms,
            () =>
              void this.resume().catch((err: Error) =>
                this.log.error({ err: err.message }, 'fault proxy could not listen again'),
              ),
          );
  }

  private record(
    fault: Fault,
    cause: FaultCause,
    scope: FaultEvent['scope'],
    links: number[],
    afterMs?: number,
  ): FaultEvent {
    const { kind, ...params } = fault;
    const event: FaultEvent = { kind, cause, atMs: this.clock.now() - this.startedAt, links, scope, ...params };
    if (afterMs !== undefined) event.afterMs = afterMs;
    for (const key of Object.keys(event) as (keyof FaultEvent)[]) if (event[key] === undefined) delete event[key];
    this.faultCounts[kind]++;
    this.faultLog.started({ fault: event }, describeFault(event), kind);
    this.opts.onFault?.(event);
    return event;
  }

  /** A connection closed: the end of the reset or drop that cut it. */
  private linkClosed(link: Link): void {
    const cut = this.cutLinks.get(link.id);
    this.cutLinks.delete(link.id);
    // Closing the proxy closes every connection: that is said once, not per connection.
    if (!cut || this.closing) return;
    this.ended({ kind: cut.kind, links: [link.id], scope: 'link', lastedMs: this.sinceMs(cut.at), how: 'closed' });
  }

  private ended(end: FaultEnd): void {
    this.faultLog.ended(end);
    this.opts.onFaultEnd?.(end);
  }

  private sinceMs(at: number): number {
    return this.clock.now() - at;
  }
}

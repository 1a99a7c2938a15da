/**
 * The fault proxy's shapes: its options, its counters, a link as `links()` lists it, and the
 * proxy's handle. Apart from proxy.ts so that file is the proxy's behaviour only.
 */
import type { Logger } from '../../src/log.ts';
import type { ChaosClock } from './clock.ts';
import type { Fault, FaultEvent, FaultKind, FaultTarget, Latency, RandomFaults } from './faults.ts';
import type { FaultEnd } from './fault-log.ts';
import type { ScheduleStep } from './schedule.ts';

export interface FaultProxyOptions {
  /** Where connections are forwarded: the broker's MQTT port. */
  target: { host: string; port: number };
  /** Listening address; default 127.0.0.1. */
  host?: string;
  /** Listening port; default 0, any free port. */
  port?: number;
  /** Seeds every random choice; default a fresh one, reported as `seed` so the run can be repeated. */
  seed?: number;
  /** Random mode: off unless given. */
  random?: RandomFaults;
  /** Schedule mode: faults at fixed times from the start. */
  schedule?: readonly ScheduleStep[];
  /** Latency on every connection from the start (not counted as an injected fault). */
  latency?: Partial<Latency>;
  clock?: ChaosClock;
  /** Faults at info (start and end, throttled: fault-log.ts), connections at debug, an unreachable target at warn. */
  log?: Logger;
  onFault?: (event: FaultEvent) => void;
  /** Told when a fault ends, as the log is (but never throttled). */
  onFaultEnd?: (end: FaultEnd) => void;
}

export interface ProxyStats {
  seed: number;
  connections: { accepted: number; live: number; targetUnreachable: number };
  bytes: { toTarget: number; toClient: number };
  faults: Record<FaultKind, number>;
}

export interface LinkInfo {
  id: number;
  openedAt: number;
  blackholed: boolean;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** mqtt://host:port, for MQTT clients that should go through the proxy. */
  readonly mqttUrl: string;
  readonly seed: number;
  /** Injects one fault now; null when the target names no live connection. */
  inject(fault: Fault, target?: FaultTarget): FaultEvent | null;
  resetAll(): FaultEvent;
  dropAll(): FaultEvent;
  /** Every connection, and every new one during the window, goes dark for `ms` (default: until heal()). */
  blackhole(ms?: number): FaultEvent;
  /** Ends every blackhole now. */
  heal(): void;
  /** Latency for every connection from now on; setDelay(0) removes it. */
  setDelay(delayMs: number, jitterMs?: number): FaultEvent;
  /** Stops listening (new connections get ECONNREFUSED) for `ms`, or until resume(). */
  pause(ms?: number): FaultEvent;
  resume(): Promise<void>;
  links(): LinkInfo[];
  stats(): ProxyStats;
  /** Closes every connection, the listener and every timer. */
  close(): Promise<void>;
}

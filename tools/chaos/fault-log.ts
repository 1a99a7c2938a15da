/**
 * The proxy's log of faults: one line when a fault starts and one when it ends (a black hole
 * heals or its connection closes, a delay window runs out, the listener opens again, a reset or
 * dropped connection is finally closed), so a run can be read against the devices' own logs:
 * "blackhole on connection 3 ended after 30012 ms: the client closed its side" is the device's
 * keep-alive giving up ("the target", the broker's).
 *
 * Random mode on a big fleet can strike hundreds of connections a second, so the lines are
 * throttled: a token bucket lets LINES_PER_SECOND through (BURST at once); what it holds back
 * is counted by kind and written as one "N more fault lines suppressed" line per second. The
 * onFault callback (the CLI's --json events) is not throttled: that is data, not a log.
 */
import type { Logger } from '../../src/log.ts';
import type { ChaosClock, Timers } from './clock.ts';
import type { FaultKind } from './faults.ts';

const LINES_PER_SECOND = 10;
const BURST = 20;
const SUMMARY_MS = 1000;

/** How a fault ended. */
export type FaultEndHow =
  /** A timed fault ran its course, or heal()/resume() ended it. */
  | 'healed'
  /** The connection closed under it (for a black hole: a keep-alive gave up on the link). */
  | 'closed'
  /** The proxy is shutting down. */
  | 'proxy-closed';

export interface FaultEnd {
  kind: FaultKind;
  /** Connections it ended on (empty for `refuse`); for 'all', the ones live when it ended. */
  links: number[];
  scope: 'all' | 'link' | 'listener';
  /** From its start to its end. */
  lastedMs: number;
  how: FaultEndHow;
  /** A black hole 'closed': the side that gave up on it (the device is the client). */
  side?: 'client' | 'target';
}

/** "blackhole on connection 3 ended after 30012 ms: the client closed its side: it gave up on the dead link". */
export function describeFaultEnd(e: FaultEnd): string {
  const where =
    e.scope === 'listener' ? '' : e.scope === 'all' ? ' on all connections' : ` on connection ${e.links[0]}`;
  const how =
    e.kind === 'refuse'
      ? 'listening again, new connections accepted'
      : e.how === 'closed'
        ? e.kind === 'blackhole'
          ? `the ${e.side ?? 'client'} closed its side: it gave up on the dead link`
          : 'both sides closed'
        : e.how === 'proxy-closed'
          ? 'the proxy closed'
          : e.kind === 'blackhole'
            ? `healed${e.scope === 'all' ? ` (${e.links.length} connection${e.links.length === 1 ? '' : 's'})` : ''}: held bytes delivered late, in order`
            : 'back to the standing latency';
  return `${e.kind}${where} ended after ${Math.round(e.lastedMs)} ms: ${how}`;
}

export class FaultLog {
  private tokens = BURST;
  private refilledAt: number;
  private readonly held = new Map<string, number>();
  private cancelSummary: (() => void) | null = null;

  constructor(
    private readonly log: Logger,
    private readonly clock: ChaosClock,
    private readonly timers: Timers,
  ) {
    this.refilledAt = clock.now();
  }

  started(fields: Record<string, unknown>, message: string, kind: FaultKind): void {
    this.line(`${kind} started`, fields, message);
  }

  ended(end: FaultEnd): void {
    this.line(`${end.kind} ended`, { faultEnd: end }, describeFaultEnd(end));
  }

  /** Writes the pending summary now (the proxy closing). */
  flush(): void {
    this.cancelSummary?.();
    this.cancelSummary = null;
    if (this.held.size === 0) return;
    const total = [...this.held.values()].reduce((a, b) => a + b, 0);
    const byKind = [...this.held].map(([what, n]) => `${what} ${n}`).join(', ');
    this.log.info(
      { suppressed: Object.fromEntries(this.held) },
      `${total} more fault lines suppressed in the last ${SUMMARY_MS / 1000} s: ${byKind}`,
    );
    this.held.clear();
  }

  private line(what: string, fields: Record<string, unknown>, message: string): void {
    if (this.take()) return void this.log.info(fields, message);
    this.held.set(what, (this.held.get(what) ?? 0) + 1);
    this.cancelSummary ??= this.timers.after(SUMMARY_MS, () => this.flush());
  }

  private take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(BURST, this.tokens + ((now - this.refilledAt) / 1000) * LINES_PER_SECOND);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

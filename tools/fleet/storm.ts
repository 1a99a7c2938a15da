/**
 * `fleet --reconnect-storm 20s`: at that moment of the first load every device link is cut at
 * once, in every worker (links.ts), while the generator keeps publishing. It needs nothing of
 * the broker, so it measures any broker, Mosquitto included. The devices come back on their own
 * schedule — a speaker with its firmware's backoff and jitter (device/backoff.ts), not bypassed —
 * and the broker keeps what was published meanwhile in their persistent sessions (QoS 1,
 * clean: false). Before the drain the run waits for the last one, so the report can say how
 * long the whole fleet took, and whether every payment from the storm on was heard once.
 */
import { preciseNow } from './clock.ts';
import type { WorkerPool } from './pool.ts';
import type { Tally } from './tally.ts';
import { stormReport, type StormReport } from './storm-report.ts';
import type { WorkerMode } from './messages.ts';

/** How long the run waits, after the load, for devices still reconnecting: beyond the backoff's 60 s cap. */
const SETTLE_MAX_MS = 120_000;

export class ReconnectStorm {
  private timer: NodeJS.Timeout | null = null;
  private loadStart = NaN;
  private struck: Promise<{ dropped: number; at: number }[]> | null = null;

  constructor(
    private readonly pool: WorkerPool,
    private readonly atMs: number,
    private readonly devices: number,
    private readonly mode: WorkerMode,
  ) {}

  /** Call as the load starts: the storm strikes `atMs` later. */
  arm(): void {
    this.loadStart = preciseNow();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.struck = this.pool.storm();
      this.struck.catch(() => undefined); // reported by settle()
    }, this.atMs);
  }

  /** Never strikes if not struck yet (the run is ending). */
  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Waits until every device is back online, or SETTLE_MAX_MS. */
  async settle(): Promise<void> {
    this.disarm();
    if (!this.struck) return;
    await this.struck;
    const until = preciseNow() + SETTLE_MAX_MS;
    while (this.pool.connected < this.devices && preciseNow() < until) await new Promise((r) => setTimeout(r, 50));
  }

  /** The report's storm section, from the workers' reconnect times and the load's tally; null if it never struck. */
  async report(tally: Tally): Promise<StormReport | null> {
    if (!this.struck) return null;
    const struck = await this.struck;
    const results = await this.pool.stormResults();
    return stormReport({
      loadStart: this.loadStart,
      struck,
      reconnectMs: results,
      tally,
      mode: this.mode,
      waitedS: SETTLE_MAX_MS / 1000,
    });
  }
}

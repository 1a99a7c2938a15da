/**
 * Telemetry: every interval, a health report on the device's telemetry topic (QoS 0), and the
 * low-battery prompt when the battery drops under 15%.
 */
import { topics, PROTOCOL_VERSION } from '../../src/protocol/index.ts';
import type { Timer } from '../board.ts';
import type { Extension, FirmwareContext } from '../context.ts';
import { prompt } from '../speak.ts';

const LOW_BATTERY_PERCENT = 15;

export class TelemetryExtension implements Extension {
  private timer: Timer | null = null;
  private readonly startedAt: number;
  private announcements = 0;
  private warnedLowBattery = false;

  constructor(private readonly ctx: FirmwareContext) {
    this.startedAt = ctx.board.clock.monotonic();
  }

  start(): void {
    this.timer = this.ctx.board.clock.every(this.ctx.settings.telemetryIntervalMs, () => this.report(), {
      background: true,
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** The firmware forwards every event here so played announcements are counted. */
  observe(e: { event: string }): void {
    if (e.event === 'announced' || e.event === 'summarized') this.announcements += 1;
  }

  report(): void {
    const { ctx } = this;
    const battery = ctx.board.battery.percent();
    if (battery < LOW_BATTERY_PERCENT && !this.warnedLowBattery) prompt(ctx, 'low-battery');
    this.warnedLowBattery = battery < LOW_BATTERY_PERCENT;
    if (!ctx.connection.connected) return;
    const report = {
      v: PROTOCOL_VERSION,
      device: ctx.id,
      uptimeMs: Math.round(ctx.board.clock.monotonic() - this.startedAt),
      battery,
      signalDbm: ctx.board.link.signalDbm(),
      queue: ctx.announcer.pending,
      announcements: this.announcements,
      state: ctx.machine.state,
      at: ctx.board.clock.now(),
    };
    void ctx.connection.publish(topics.telemetry(ctx.id), JSON.stringify(report), { qos: 0 }).catch(() => undefined);
  }
}

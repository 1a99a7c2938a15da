/**
 * Presence: the retained state message (online, firmware, volume, language) whose last will
 * says offline; the status light and display; and the spoken network prompts.
 */
import { formatAmount, topics, PROTOCOL_VERSION } from '../../src/protocol/index.ts';
import type { Extension, FirmwareContext } from '../context.ts';
import { prompt } from '../speak.ts';

export function stateJson(
  ctx: Pick<FirmwareContext, 'id' | 'firmwareVersion' | 'lang'>,
  online: boolean,
  volume?: number,
): string {
  return JSON.stringify({
    v: PROTOCOL_VERSION,
    device: ctx.id,
    online,
    firmware: ctx.firmwareVersion,
    lang: ctx.lang,
    ...(volume === undefined ? {} : { volume }),
  });
}

export class PresenceExtension implements Extension {
  private readonly offs: (() => void)[] = [];

  constructor(private readonly ctx: FirmwareContext) {}

  start(): void {
    const { ctx } = this;
    const onOnline = () => {
      this.publishState(true);
      prompt(ctx, 'network-connected');
      ctx.emit({ event: 'online', device: ctx.id, broker: ctx.brokerUrl });
    };
    const onOffline = () => {
      prompt(ctx, 'network-lost');
      ctx.emit({ event: 'offline', device: ctx.id, broker: ctx.brokerUrl });
    };
    const onTransition = () => this.show();
    ctx.connection.on('online', onOnline);
    ctx.connection.on('offline', onOffline);
    ctx.machine.on('transition', onTransition);
    this.offs.push(
      () => ctx.connection.off('online', onOnline),
      () => ctx.connection.off('offline', onOffline),
      () => ctx.machine.off('transition', onTransition),
    );
    this.show();
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    // Say goodbye on the state topic; the last will only covers vanishing, not a clean stop.
    if (this.ctx.connection.connected) await this.publishState(false);
  }

  /** Something in the state message changed (the volume): republish it and redraw. */
  refresh(): void {
    if (this.ctx.connection.connected) void this.publishState(true);
    this.show();
  }

  private async publishState(online: boolean): Promise<void> {
    const { ctx } = this;
    try {
      await ctx.connection.publish(topics.state(ctx.id), stateJson(ctx, online, ctx.volume.level), {
        qos: 1,
        retain: true,
      });
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'could not publish state');
    }
  }

  show(): void {
    const { ctx } = this;
    ctx.board.led.set(ctx.machine.state);
    // Boards without a display (a fleet's headless speakers) skip formatting it after every payment.
    if (!ctx.board.display) return;
    const last = ctx.payments.lastPayment();
    ctx.board.display.show({
      device: ctx.id,
      state: ctx.machine.state,
      volume: ctx.volume.level,
      queue: ctx.announcer.pending,
      lastPayment: last
        ? `${formatAmount(last)} ${last.currency} (${last.channel}${last.kind === 'refund' ? ', refund' : ''})`
        : null,
    });
  }
}

/**
 * Controls like a real box: volume up/down (with 音量最大/最小 at the ends), replay the last
 * payment (opening with 重复播报 / "Repeat:", so it never sounds like a new payment), today's
 * summary, and the power key reading the battery. The same actions come from
 * the board's buttons and from commands on the device's `cmd` topic (routed by commands.ts).
 */
import { MAX_VOLUME, MIN_VOLUME } from '../../src/audio/volume.ts';
import { COMMANDS, type ControlName } from '../../src/protocol/index.ts';
import type { Message } from '../../src/speech/index.ts';
import type { ButtonName } from '../board.ts';
import type { CommandHandler, Extension, FirmwareContext } from '../context.ts';
import { speak, type SpokenWhat } from '../speak.ts';

const BUTTON_ACTIONS: Record<ButtonName, ControlName> = {
  'volume-up': 'volume-up',
  'volume-down': 'volume-down',
  replay: 'replay',
  summary: 'summary',
  power: 'battery',
};

/** A "minimum volume" prompt played at level 0 would be silent; it plays at this level instead. */
const AUDIBLE_FLOOR = 3;

type Outcome = { volume?: number; text?: string };

export class ControlsExtension implements Extension {
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly ctx: FirmwareContext) {}

  commands(): Partial<Record<ControlName, CommandHandler>> {
    return Object.fromEntries(
      COMMANDS.map(
        (name) =>
          [name, (c) => this.run(name, 'value' in c ? c.value : undefined)] satisfies [ControlName, CommandHandler],
      ),
    );
  }

  start(): void {
    this.unsubscribe = this.ctx.board.buttons.onPress((button) => {
      this.run(BUTTON_ACTIONS[button]).catch((err: Error) =>
        this.ctx.log.warn({ button, err: err.message }, 'button action failed'),
      );
    });
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** Runs one action; resolves once any answer has been spoken. */
  async run(command: ControlName, value?: number): Promise<Outcome> {
    switch (command) {
      case 'volume-up':
        return this.changeVolume(this.ctx.volume.level + 1);
      case 'volume-down':
        return this.changeVolume(this.ctx.volume.level - 1);
      case 'set-volume':
        return this.changeVolume(value!);
      case 'replay': {
        const last = this.ctx.payments.lastPayment();
        return last
          ? this.say('replay', { type: 'payment', payment: last, replay: true })
          : this.say('no-records', { type: 'prompt', prompt: 'no-records' });
      }
      case 'summary':
        return this.say('summary', { type: 'summary', scope: 'today', ...this.ctx.payments.today() });
      case 'battery':
        return this.say('battery', { type: 'battery', percent: this.ctx.board.battery.percent() });
    }
  }

  private async changeVolume(requested: number): Promise<Outcome> {
    const before = this.ctx.volume.level;
    const volume = await this.ctx.volume.set(requested);
    if (volume !== before) {
      this.ctx.emit({ event: 'volume', device: this.ctx.id, volume });
      this.ctx.publishState();
    }
    // At the ends the box says so, like the real ones: pressing up at 10 says 音量最大.
    const end = requested >= MAX_VOLUME ? 'volume-max' : requested <= MIN_VOLUME ? 'volume-min' : null;
    if (end === null) return { volume };
    const spoken = await speak(
      this.ctx,
      end,
      { type: 'prompt', prompt: end },
      end === 'volume-min' ? AUDIBLE_FLOOR : undefined,
    );
    return { volume, text: spoken.utterance.text };
  }

  private async say(what: SpokenWhat, message: Message): Promise<Outcome> {
    const spoken = await speak(this.ctx, what, message);
    return { text: spoken.utterance.text };
  }
}

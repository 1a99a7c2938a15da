/**
 * Controls like a real box: volume up/down (with 音量最大/最小 at the ends), replay the last
 * payment, today's summary, and the power key reading the battery. The same actions come from
 * the board's buttons and from commands on the device's `cmd` topic, answered on `cmd/result`.
 */
import { MAX_VOLUME, MIN_VOLUME } from '../../src/audio/volume.ts';
import { parseCommand, topics, OTA_COMMAND, PROTOCOL_VERSION, type ControlName, type CommandResult } from '../../src/protocol/index.ts';
import type { Message } from '../../src/speech/index.ts';
import type { ButtonName } from '../board.ts';
import type { Extension, FirmwareContext } from '../context.ts';
import { speak, type SpokenWhat } from '../speak.ts';
import { OtaExtension, type OtaAccepted } from './ota.ts';

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
  /** The `ota` command arrives on the same topic; the updater is its own extension. */
  private readonly ota: OtaExtension;

  constructor(private readonly ctx: FirmwareContext) {
    this.ota = new OtaExtension(ctx, (result) => this.publishResult(result));
  }

  start(): void {
    this.ota.start();
    this.unsubscribe = this.ctx.board.buttons.onPress((button) => {
      this.run(BUTTON_ACTIONS[button]).catch((err: Error) => this.ctx.log.warn({ button, err: err.message }, 'button action failed'));
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.ota.stop();
  }

  /** A message on the command topic: validate, run, answer on cmd/result. */
  async onCommand(payload: Buffer): Promise<void> {
    const parsed = parseCommand(payload);
    const base: Pick<CommandResult, 'v' | 'device'> = { v: PROTOCOL_VERSION, device: this.ctx.id };
    if (!parsed.ok) {
      this.ctx.emit({ event: 'command', device: this.ctx.id, id: parsed.id, command: parsed.command, ok: false, error: parsed.error });
      return this.answer({ ...base, id: parsed.id, command: parsed.command, ok: false, error: parsed.error, at: this.ctx.board.clock.now() });
    }
    const { id, command } = parsed.command;
    let result: CommandResult;
    let afterAnswer: (() => void) | undefined;
    try {
      const c = parsed.command;
      const { afterAnswer: after, ...outcome }: Outcome & Partial<OtaAccepted> = c.command === OTA_COMMAND ? await this.ota.run(c) : await this.run(c.command, c.value);
      afterAnswer = after;
      result = { ...base, id, command, ok: true, ...outcome, at: this.ctx.board.clock.now() };
    } catch (err) {
      result = { ...base, id, command, ok: false, error: (err as Error).message, at: this.ctx.board.clock.now() };
    }
    this.ctx.emit({ event: 'command', device: this.ctx.id, id, command, ok: result.ok, ...(result.error ? { error: result.error } : {}) });
    await this.answer(result);
    afterAnswer?.(); // e.g. restart into the firmware just installed, once the backend has its answer
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
        return last ? this.say('replay', { type: 'payment', payment: last }) : this.say('no-records', { type: 'prompt', prompt: 'no-records' });
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
    const spoken = await speak(this.ctx, end, { type: 'prompt', prompt: end }, end === 'volume-min' ? AUDIBLE_FLOOR : undefined);
    return { volume, text: spoken.utterance.text };
  }

  private async say(what: SpokenWhat, message: Message): Promise<Outcome> {
    const spoken = await speak(this.ctx, what, message);
    return { text: spoken.utterance.text };
  }

  /** Rejects if the result could not be sent. */
  private async publishResult(result: CommandResult): Promise<void> {
    await this.ctx.connection.publish(topics.commandResult(this.ctx.id), JSON.stringify(result), { qos: 1 });
  }

  private answer(result: CommandResult): Promise<void> {
    return this.publishResult(result).catch((err: Error) => {
      this.ctx.log.warn({ command: result.id, err: err.message }, 'could not send a command result');
    });
  }
}

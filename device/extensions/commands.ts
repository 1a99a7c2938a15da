/**
 * The device's command topic: every message is checked (parseCommand), then trusted or refused
 * (CommandGuard, device/trust.ts: with a backend key only a signed, fresh command never run
 * before passes), handed to the extension that declared its command, and answered on cmd/result
 * with the outcome or the reason it failed. A refused command is never handed on. Commands run
 * beside the notifications, never in front of them: a summary may speak for seconds, and the
 * payment behind it must still be stored and PUBACKed at once.
 */
import {
  parseCommand,
  topics,
  PROTOCOL_VERSION,
  type CommandName,
  type CommandResult,
} from '../../src/protocol/index.ts';
import type { CommandHandler, Extension, FirmwareContext, TopicHandler } from '../context.ts';
import { CommandGuard } from '../trust.ts';

export class CommandsExtension implements Extension {
  private readonly guard: CommandGuard;

  constructor(
    private readonly ctx: FirmwareContext,
    /** By command name, from the other extensions' declarations. */
    private readonly handlers: Partial<Record<CommandName, CommandHandler>>,
  ) {
    this.guard = new CommandGuard(ctx.trust, ctx.board.nvs, { deviceId: ctx.id });
  }

  topics(): Record<string, TopicHandler> {
    return { [topics.command(this.ctx.id)]: (payload) => void this.onCommand(payload) };
  }

  start(): void {}

  stop(): void {}

  /** A message on the command topic: validate, run, answer on cmd/result. */
  async onCommand(payload: Uint8Array): Promise<void> {
    const { ctx } = this;
    const parsed = parseCommand(payload, ctx.id);
    const base: Pick<CommandResult, 'v' | 'device'> = { v: PROTOCOL_VERSION, device: ctx.id };
    if (!parsed.ok) {
      ctx.emit({
        event: 'command',
        device: ctx.id,
        id: parsed.id,
        command: parsed.command,
        ok: false,
        error: parsed.error,
      });
      return this.answer({
        ...base,
        id: parsed.id,
        command: parsed.command,
        ok: false,
        error: parsed.error,
        at: ctx.board.clock.now(),
      });
    }
    const { id, command } = parsed.command;
    const verdict = await this.guard
      .admit(parsed.command, ctx.board.clock.now())
      .catch(
        (err: Error) => ({ ok: false, error: `not run: could not record the command id (${err.message})` }) as const,
      );
    if (!verdict.ok) {
      const error = 'reason' in verdict ? `refused, not run (${verdict.reason}): ${verdict.detail}` : verdict.error;
      ctx.log.warn({ command, id, error }, 'refused a command');
      ctx.emit({ event: 'command', device: ctx.id, id, command, ok: false, error });
      return this.answer({
        ...base,
        id,
        command,
        ok: false,
        error,
        ...('reason' in verdict ? { reason: verdict.reason } : {}),
        at: ctx.board.clock.now(),
      });
    }
    let result: CommandResult;
    let afterAnswer: (() => void) | undefined;
    try {
      const handler = this.handlers[command];
      if (!handler) throw new Error(`this firmware has no ${command} command`);
      const { afterAnswer: after, ...outcome } = await handler(parsed.command);
      afterAnswer = after;
      result = { ...base, id, command, ok: true, ...outcome, at: ctx.board.clock.now() };
    } catch (err) {
      result = { ...base, id, command, ok: false, error: (err as Error).message, at: ctx.board.clock.now() };
    }
    ctx.emit({
      event: 'command',
      device: ctx.id,
      id,
      command,
      ok: result.ok,
      ...(result.error ? { error: result.error } : {}),
    });
    await this.answer(result);
    afterAnswer?.(); // e.g. restart into the firmware just installed, once the backend has its answer
  }

  private answer(result: CommandResult): Promise<void> {
    return this.ctx.sendCommandResult(result).catch((err: Error) => {
      this.ctx.log.warn({ command: result.id, err: err.message }, 'could not send a command result');
    });
  }
}

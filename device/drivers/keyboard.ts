/**
 * The laptop's keyboard as the box's buttons: + and - for volume, r replay, s summary,
 * p the power key (battery), q quits, ? or h shows which key does what (so does any other
 * key: a key that silently does nothing leaves a person guessing). Only on a terminal (raw
 * mode); elsewhere it does nothing.
 */
import type { ButtonName } from '../board.ts';
import { createButtonEmitter, type ButtonEmitter } from './simulated.ts';

export const KEYS: Readonly<Record<string, ButtonName>> = {
  '+': 'volume-up',
  '=': 'volume-up', // the unshifted + key
  '-': 'volume-down',
  r: 'replay',
  s: 'summary',
  p: 'power',
};

export const KEY_HELP = "keys: + volume up, - volume down, r replay, s today's summary, p battery, q quit, ? this help";

export interface Keyboard extends ButtonEmitter {
  close(): void;
}

/** `onHelp` is given the key help to show (the laptop board prints it above its panel). */
export function createKeyboard(
  input: Pick<NodeJS.ReadStream, 'isTTY' | 'setRawMode' | 'resume' | 'pause' | 'on' | 'off'>,
  onQuit: () => void,
  onHelp: (text: string) => void = () => undefined,
): Keyboard {
  const buttons = createButtonEmitter();
  if (!input.isTTY) return { ...buttons, close: () => undefined };
  const onData = (chunk: Buffer) => {
    for (const key of chunk.toString('utf8')) {
      // Ctrl-C arrives as a byte in raw mode, not as SIGINT.
      if (key === 'q' || key === '\u0003') onQuit();
      else if (KEYS[key]) buttons.press(KEYS[key]);
      else if (key === '?' || key === 'h') onHelp(KEY_HELP);
      // Enter, arrows and the like are not keys a person expects an answer from.
      else if (key >= ' ' && key !== '\x7f') onHelp(`"${key}" is not a key of this speaker; ${KEY_HELP}`);
    }
  };
  input.setRawMode(true);
  input.resume();
  input.on('data', onData);
  return {
    ...buttons,
    close() {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
    },
  };
}

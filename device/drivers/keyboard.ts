/**
 * The laptop's keyboard as the box's buttons: + and - for volume, r replay, s summary,
 * p the power key (battery), q quits. Only on a terminal (raw mode); elsewhere it does nothing.
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

export interface Keyboard extends ButtonEmitter {
  close(): void;
}

export function createKeyboard(input: NodeJS.ReadStream, onQuit: () => void): Keyboard {
  const buttons = createButtonEmitter();
  if (!input.isTTY) return { ...buttons, close: () => undefined };
  const onData = (chunk: Buffer) => {
    for (const key of chunk.toString('utf8')) {
      // Ctrl-C arrives as a byte in raw mode, not as SIGINT.
      if (key === 'q' || key === '\u0003') onQuit();
      else if (KEYS[key]) buttons.press(KEYS[key]);
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

/**
 * The laptop's terminal as the box's status light and display: a three-line panel redrawn in
 * place at the bottom of the terminal, with event lines scrolling above it.
 */
import type { Display, DisplayInfo, StatusLed } from '../board.ts';
import type { DeviceState } from '../state-machine.ts';

const LIGHTS: Record<DeviceState, string> = {
  booting: '\x1b[33m●\x1b[0m booting',
  connecting: '\x1b[33m●\x1b[0m connecting',
  online: '\x1b[32m●\x1b[0m online',
  offline: '\x1b[31m●\x1b[0m offline',
  updating: '\x1b[34m●\x1b[0m updating',
};
const HELP = 'keys: + volume up  - volume down  r replay  s summary  p battery  q quit';

export interface TerminalPanel extends Display, StatusLed {
  /** Prints a line above the panel. */
  log(line: string): void;
  close(): void;
}

export function createTerminalPanel(out: NodeJS.WriteStream, device: string): TerminalPanel {
  let info: DisplayInfo = { device, state: 'booting', volume: 0, queue: 0, lastPayment: null };
  let drawn = 0;
  const erase = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  const draw = () => {
    const lines = [
      `${LIGHTS[info.state]}   ${info.device}   volume ${info.volume}/10   queue ${info.queue}`,
      `last payment: ${info.lastPayment ?? 'none yet'}`,
      `\x1b[2m${HELP}\x1b[0m`,
    ];
    out.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const redraw = () => {
    erase();
    draw();
  };
  return {
    show(next: DisplayInfo) {
      info = next;
      redraw();
    },
    set(state: DeviceState) {
      info = { ...info, state };
      redraw();
    },
    log(line: string) {
      erase();
      out.write(`${line}\n`);
      draw();
    },
    close() {
      erase();
    },
  };
}

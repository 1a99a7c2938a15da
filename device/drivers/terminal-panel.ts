/**
 * The laptop's terminal as the box's status light and display: a three-line panel redrawn in
 * place at the bottom of the terminal, with event lines scrolling above it.
 *
 * Redrawing means moving the cursor up over the rows the panel took and clearing below. A line
 * wider than the terminal wraps onto more rows than it has lines, and a narrower terminal
 * re-wraps what is already drawn: counting lines then leaves stale rows behind. So each line
 * is cut to the width (it never wraps as drawn), and on a resize the rows to erase are counted
 * as the terminal has re-wrapped them (most terminals reflow: VTE, iTerm2, Windows Terminal,
 * kitty, xterm.js), then the panel is drawn again at the new width.
 */
import { stripVTControlCharacters } from 'node:util';
import type { Display, DisplayInfo, StatusLed } from '../board.ts';
import type { DeviceState } from '../state-machine.ts';

const LIGHTS: Record<DeviceState, string> = {
  booting: '\x1b[33m●\x1b[0m booting',
  connecting: '\x1b[33m●\x1b[0m connecting',
  online: '\x1b[32m●\x1b[0m online',
  offline: '\x1b[31m●\x1b[0m offline',
  updating: '\x1b[34m●\x1b[0m updating',
};
export const HELP = 'keys: + volume up  - volume down  r replay  s summary  p battery  q quit  ? help';

export interface TerminalPanel extends Display, StatusLed {
  /** Prints a line above the panel. */
  log(line: string): void;
  close(): void;
}

/** What the panel needs of a terminal: process.stdout, or a test's stand-in. */
export interface PanelOutput {
  write(text: string): unknown;
  on(event: 'resize', listener: () => void): unknown;
  off(event: 'resize', listener: () => void): unknown;
  columns?: number;
}

export function createTerminalPanel(out: PanelOutput, device: string): TerminalPanel {
  let info: DisplayInfo = { device, state: 'booting', volume: 0, queue: 0, lastPayment: null };
  /** The visible width of each panel line as drawn, to count its rows after a resize. */
  let drawn: number[] = [];
  const columns = () => (out.columns && out.columns > 1 ? out.columns : 80);
  const erase = () => {
    const cols = columns();
    const rows = drawn.reduce((sum, width) => sum + Math.max(1, Math.ceil(width / cols)), 0);
    if (rows > 0) out.write(`\x1b[${rows}A\x1b[0J`);
    drawn = [];
  };
  const draw = () => {
    // One column spare: a line exactly as wide as the terminal puts the cursor in a pending-wrap state.
    const width = columns() - 1;
    const lines = [
      `${LIGHTS[info.state]}   ${info.device}   volume ${info.volume}/10   queue ${info.queue}`,
      `last payment: ${info.lastPayment ?? 'none yet'}`,
      `\x1b[2m${HELP}\x1b[0m`,
    ].map((line) => fit(line, width));
    out.write(`${lines.map((l) => l.text).join('\n')}\n`);
    drawn = lines.map((l) => l.width);
  };
  const redraw = () => {
    erase();
    draw();
  };
  out.on('resize', redraw);
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
      out.off('resize', redraw);
      erase();
    },
  };
}

/** Cells a character takes: 2 for CJK and other wide characters, 1 otherwise. */
function cells(ch: string): number {
  const cp = ch.codePointAt(0)!;
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}

/** `line` cut to `width` cells (colours kept, an ellipsis where it was cut), and its visible width. */
export function fit(line: string, width: number): { text: string; width: number } {
  const plain = stripVTControlCharacters(line);
  let total = 0;
  for (const ch of plain) total += cells(ch);
  if (total <= width) return { text: line, width: total };
  // Cut the plain text (colours dropped: a cut may fall inside a coloured span).
  let text = '';
  let used = 0;
  for (const ch of plain) {
    if (used + cells(ch) > width - 1) break;
    text += ch;
    used += cells(ch);
  }
  return { text: `${text}…`, width: used + 1 };
}

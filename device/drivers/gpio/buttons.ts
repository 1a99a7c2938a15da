/**
 * Push buttons on GPIO lines: edges in, debounced presses out, as the board's `Buttons`.
 *
 * Debounce by settling: only a level that has held for `debounceMs` counts, and a press is the
 * settled level going from released to pressed. So contact bounce (a burst of edges within a few
 * ms) gives one press, a spike shorter than `debounceMs` gives none, and a held button gives one
 * press until it is let go. How long a level held is judged two ways: by the edges' own
 * timestamps when the next edge comes (so a quick press whose two edges reach us together, late,
 * still counts), and by a timer for the last level, which no edge follows. The cost is
 * `debounceMs` of latency (30 ms by default), which nobody notices on a volume key.
 */
import type { ButtonName, Buttons } from '../../board.ts';
import { createButtonEmitter } from '../simulated.ts';
import type { Bias, EdgeWatch, GpioChip, Level, LineEdge } from './chip.ts';

export interface GpioButtonsOptions {
  /** BCM line offset of each button; a button left out is not wired. */
  pins: Partial<Record<ButtonName, number>>;
  /** Pressed = low (buttons to GND with pull-ups). */
  activeLow: boolean;
  bias: Bias;
  debounceMs: number;
  /** The watch died (e.g. gpiomon exited): the buttons no longer work. */
  onFailure(err: Error): void;
}

export interface GpioButtons extends Buttons {
  close(): Promise<void>;
}

interface LineState {
  button: ButtonName;
  /** Settled: the level that has held for debounceMs. Lines start released (buttons are rarely held at boot). */
  pressed: boolean;
  /** The most recent level seen, waiting to settle, and since when (chip clock, ms; null: unknown). */
  level: Level;
  since: number | null;
  timer: ReturnType<typeof setTimeout> | null;
}

export async function createGpioButtons(chip: GpioChip, opts: GpioButtonsOptions): Promise<GpioButtons> {
  const emitter = createButtonEmitter();
  const activeLevel: Level = opts.activeLow ? 0 : 1;
  const lines = new Map<number, LineState>();
  for (const [button, offset] of Object.entries(opts.pins) as [ButtonName, number | undefined][]) {
    if (offset !== undefined)
      lines.set(offset, { button, pressed: false, level: opts.activeLow ? 1 : 0, since: null, timer: null });
  }
  let closed = false;

  const settle = (line: LineState, level: Level) => {
    const pressed = level === activeLevel;
    if (pressed === line.pressed) return; // a bounce that came back to where it was
    line.pressed = pressed;
    if (pressed && !closed) emitter.press(line.button);
  };

  const onEdge = ({ offset, level, atMs }: LineEdge) => {
    const line = lines.get(offset);
    if (!line || closed) return;
    if (line.timer) clearTimeout(line.timer);
    // The level this edge ends held from `since` until now: long enough to count?
    if (line.since !== null && atMs - line.since >= opts.debounceMs) settle(line, line.level);
    line.level = level;
    line.since = atMs;
    line.timer = setTimeout(() => {
      line.timer = null;
      settle(line, line.level);
    }, opts.debounceMs);
  };

  const watch: EdgeWatch | null =
    lines.size === 0
      ? null
      : await chip.watch([...lines.keys()], { bias: opts.bias, onEdge, onFailure: opts.onFailure });

  return {
    onPress: (handler) => emitter.onPress(handler),
    async close() {
      closed = true;
      for (const line of lines.values()) if (line.timer) clearTimeout(line.timer);
      await watch?.close();
    },
  };
}

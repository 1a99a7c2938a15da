/**
 * A GPIO chip as the Pi board needs it, and nothing more: watch input lines for edges, hold an
 * output line at a level, let go of both. The board's logic (debounce, which pin is which
 * button, LED patterns) is written against this interface, so it is tested with an in-memory
 * chip; `gpiod-tools.ts` implements it with libgpiod's command-line tools on a real Pi.
 *
 * Levels are physical (1 = the pin is high): active-low wiring is the board's business, not
 * the chip's, so a fake chip models exactly what a multimeter on the pin would show.
 */

export const BIASES = ['as-is', 'disable', 'pull-up', 'pull-down'] as const;
/** The pin's internal pull resistor, as libgpiod names it. */
export type Bias = (typeof BIASES)[number];

export type Level = 0 | 1;

/** One edge on a watched line: the level the line went to, and when. */
export interface LineEdge {
  offset: number;
  level: Level;
  /**
   * When the edge happened, in ms on the chip's own clock (the kernel's event timestamp). Only
   * differences between edges matter: edges that reach Node in one batch — its event loop was
   * busy synthesising speech — still show how long each level held.
   */
  atMs: number;
}

/** Lines being watched; `close` releases them. */
export interface EdgeWatch {
  close(): Promise<void>;
}

/** A line driven as an output; `set` takes effect soon (in order, the latest level wins). */
export interface OutputLine {
  readonly offset: number;
  set(level: Level): void;
  /** Releases the line (after driving it to `level` if given). */
  close(level?: Level): Promise<void>;
}

export interface WatchOptions {
  bias: Bias;
  onEdge(edge: LineEdge): void;
  /** The watch stopped on its own (the process died, the chip went away): no more edges will come. */
  onFailure(err: Error): void;
}

export interface OutputOptions {
  initial: Level;
  /** The line could not be driven any more; the LED is dark from here on. */
  onFailure(err: Error): void;
}

export interface GpioChip {
  /** Kernel name, e.g. gpiochip0. */
  readonly name: string;
  /** The driver's label, e.g. pinctrl-bcm2711. */
  readonly label: string;
  /** Number of lines: valid offsets are 0 … lines-1. */
  readonly lines: number;
  /** Rejects with the reason when the lines cannot be requested (busy, no permission). */
  watch(offsets: readonly number[], opts: WatchOptions): Promise<EdgeWatch>;
  output(offset: number, opts: OutputOptions): Promise<OutputLine>;
}

/** How a board finds its chip: the gpiod tools on a Pi, an in-memory chip in tests. */
export interface GpioBackend {
  readonly name: string;
  /** `wanted`: a chip name (gpiochip0), number (0), label (pinctrl-bcm2711) or "auto". Throws GpioUnavailableError when there is none to use. */
  openChip(wanted: string): Promise<GpioChip>;
}

/** No usable GPIO chip: the message says why and what to do. Buttons and LED go dark; the speaker runs on. */
export class GpioUnavailableError extends Error {
  override readonly name = 'GpioUnavailableError';
}

/** Labels of the chips that carry the 40-pin header on Raspberry Pi 1-4 and 5 (RP1). */
export const PI_HEADER_LABELS = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1'] as const;

export interface ChipInfo {
  name: string;
  label: string;
  lines: number;
}

/**
 * Picks the chip to use from what the system lists. "auto" prefers the Pi header's chip (its
 * number changed between kernels on the Pi 5), then the first chip.
 */
export function chooseChip(chips: readonly ChipInfo[], wanted: string): ChipInfo | string {
  if (chips.length === 0) return 'the system lists no GPIO chip';
  const list = chips.map((c) => `${c.name} [${c.label}] (${c.lines} lines)`).join(', ');
  if (wanted === 'auto') {
    return chips.find((c) => (PI_HEADER_LABELS as readonly string[]).includes(c.label)) ?? chips[0]!;
  }
  const byName = /^\d+$/.test(wanted) ? `gpiochip${wanted}` : wanted;
  return (
    chips.find((c) => c.name === byName || c.label === wanted) ??
    `no GPIO chip "${wanted}" (found: ${list}); set pi.chip to one of them or "auto"`
  );
}

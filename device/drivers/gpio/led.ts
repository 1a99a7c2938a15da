/**
 * The status LED on one GPIO line: one pattern per device state, played with timers.
 *
 *   booting     on              the firmware is running
 *   connecting  blink 1 Hz      looking for the broker
 *   online      on              ready to announce payments
 *   offline     blink 2.5 Hz    connection lost (the "something is wrong" blink)
 *   updating    short flashes   installing firmware: do not unplug
 *
 * Blink rates stay slow on purpose: with the gpiod tools each change of level is a process
 * (libgpiod 1.6's gpioset holds a line only while it runs), a few per second at most.
 */
import type { StatusLed } from '../../board.ts';
import type { DeviceState } from '../../state-machine.ts';
import type { GpioChip, Level, OutputLine } from './chip.ts';

/** `steady` holds the LED on or off; `blink` repeats onMs lit, offMs dark. */
export type LedPattern = { kind: 'steady'; on: boolean } | { kind: 'blink'; onMs: number; offMs: number };

export const LED_PATTERNS: Readonly<Record<DeviceState, LedPattern>> = Object.freeze({
  booting: { kind: 'steady', on: true },
  connecting: { kind: 'blink', onMs: 500, offMs: 500 },
  online: { kind: 'steady', on: true },
  offline: { kind: 'blink', onMs: 200, offMs: 200 },
  updating: { kind: 'blink', onMs: 100, offMs: 400 },
});

export interface GpioLedOptions {
  offset: number;
  /** Lit = low (LED from 3V3 through a resistor to the pin). Default wiring is active-high. */
  activeLow: boolean;
  onFailure(err: Error): void;
}

export interface GpioLed extends StatusLed {
  /** The state whose pattern is showing (null before the first `set`). */
  readonly showing: DeviceState | null;
  /** Stops the pattern, turns the LED off and releases the line. */
  close(): Promise<void>;
}

export async function createGpioLed(chip: GpioChip, opts: GpioLedOptions): Promise<GpioLed> {
  const level = (lit: boolean): Level => (lit !== opts.activeLow ? 1 : 0);
  const line: OutputLine = await chip.output(opts.offset, { initial: level(false), onFailure: opts.onFailure });
  let timer: ReturnType<typeof setTimeout> | null = null;
  let showing: DeviceState | null = null;
  let closed = false;

  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const blink = (onMs: number, offMs: number, lit: boolean) => {
    line.set(level(lit));
    timer = setTimeout(() => blink(onMs, offMs, !lit), lit ? onMs : offMs);
  };

  return {
    get showing() {
      return showing;
    },
    set(state) {
      // The presence extension refreshes the LED on every display update: keep a blink's phase.
      if (closed || state === showing) return;
      showing = state;
      stop();
      const pattern = LED_PATTERNS[state];
      if (pattern.kind === 'steady') line.set(level(pattern.on));
      else blink(pattern.onMs, pattern.offMs, true);
    },
    async close() {
      closed = true;
      stop();
      await line.close(level(false));
    },
  };
}

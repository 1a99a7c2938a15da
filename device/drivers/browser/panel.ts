/**
 * The front of the box as the page draws it: buttons pressed by clicks, the status LED, the
 * segment display, a simulated battery and radio. The firmware drives these through the board's
 * interfaces; the page reads ONE observable state (`state()`, `subscribe`) and never reaches
 * into the firmware, so drawing code and firmware change apart.
 */
import {
  BUTTONS,
  type Battery,
  type ButtonName,
  type Clock,
  type Display,
  type DisplayInfo,
  type NetworkLink,
  type StatusLed,
} from '../../board.ts';
import type { DeviceState } from '../../state-machine.ts';
import { createButtonEmitter, createSimulatedBattery, createSimulatedLink, type ButtonEmitter } from '../simulated.ts';
import { createListeners } from './listeners.ts';

export type LedColor = 'green' | 'amber' | 'red' | 'blue' | 'off';

export interface LedLook {
  color: LedColor;
  blink: boolean;
}

/**
 * One look per state, the common convention of payment speakers and routers: steady green is
 * the only "all is well"; blinking means "working on it" (amber while connecting, blue during an
 * update); red blinks when the box cannot take payments, so a shopkeeper notices from afar;
 * steady blue is the boot, before the radio is up.
 */
export const LED_LOOKS = {
  booting: { color: 'blue', blink: false },
  connecting: { color: 'amber', blink: true },
  online: { color: 'green', blink: false },
  offline: { color: 'red', blink: true },
  updating: { color: 'blue', blink: true },
} as const satisfies Record<DeviceState, LedLook>;

/** Before the firmware first sets the LED (and after power off, if the page says so). */
export const LED_OFF: LedLook = Object.freeze({ color: 'off', blink: false });

export interface PanelState {
  /** The state the firmware last showed on the LED; null before it first did. */
  state: DeviceState | null;
  led: LedLook;
  /** What the firmware last put on the display; null before it first did. */
  display: DisplayInfo | null;
  /** 0–100, read when the state changes or the firmware reads it. */
  batteryPercent: number;
  /** The signal the firmware last read from the radio, dBm. */
  signalDbm: number;
}

export interface BrowserPanel {
  readonly buttons: ButtonEmitter;
  readonly led: StatusLed;
  readonly display: Display;
  readonly battery: Battery;
  readonly link: NetworkLink;
  /** A click on one of the box's buttons. Throws a RangeError for a name that is not a button. */
  press(button: ButtonName): void;
  /** The current state (a new, frozen object after each change). */
  state(): PanelState;
  /** Called with the new state after every change; returns the unsubscribe. */
  subscribe(listener: (state: PanelState) => void): () => void;
}

export interface BrowserPanelOptions {
  /** The battery drains with elapsed time, which setting the wall clock must not jump. */
  clock: Pick<Clock, 'monotonic'>;
  batteryPercent?: number;
  /** For the radio's wandering signal. Default Math.random. */
  random?: () => number;
}

/** Signal bars for the display, 0–4, from dBm (thresholds as phones draw LTE bars). */
export function signalBars(dbm: number): number {
  if (dbm >= -70) return 4;
  if (dbm >= -80) return 3;
  if (dbm >= -90) return 2;
  if (dbm >= -100) return 1;
  return 0;
}

export function createBrowserPanel(opts: BrowserPanelOptions): BrowserPanel {
  const buttons = createButtonEmitter();
  const battery = createSimulatedBattery({ now: () => opts.clock.monotonic() }, { startPercent: opts.batteryPercent });
  const radio = createSimulatedLink(opts.random);
  const listeners = createListeners<PanelState>();
  let current: PanelState = Object.freeze({
    state: null,
    led: LED_OFF,
    display: null,
    batteryPercent: battery.percent(),
    signalDbm: radio.signalDbm(),
  });

  const update = (change: Partial<PanelState>) => {
    const next = { ...current, batteryPercent: battery.percent(), ...change };
    if (Object.keys(next).every((k) => next[k as keyof PanelState] === current[k as keyof PanelState])) return;
    current = Object.freeze(next);
    listeners.emit(current);
  };

  return {
    buttons,
    led: { set: (state) => update({ state, led: LED_LOOKS[state] }) },
    display: { show: (info) => update({ display: Object.freeze({ ...info }) }) },
    battery: {
      percent() {
        const percent = battery.percent();
        update({ batteryPercent: percent });
        return percent;
      },
    },
    link: {
      signalDbm() {
        const dbm = radio.signalDbm();
        update({ signalDbm: dbm });
        return dbm;
      },
    },
    press(button) {
      if (!BUTTONS.includes(button))
        throw new RangeError(`no button "${String(button)}" on the box; the buttons are ${BUTTONS.join(', ')}`);
      buttons.press(button);
    },
    state: () => current,
    subscribe: (listener) => listeners.add(listener),
  };
}

/**
 * Drivers for parts a laptop or a test does not have: a battery that drains with uptime, a
 * radio with a plausible signal, and buttons pressed from code (keyboard, MQTT, tests).
 */
import type { Battery, ButtonName, Buttons, Clock, NetworkLink, StatusLed } from '../board.ts';
import type { DeviceState } from '../state-machine.ts';

/** Starts full and loses `drainPerHour` percent per hour of uptime, never below 0. */
export function createSimulatedBattery(
  clock: Pick<Clock, 'now'>,
  opts: { startPercent?: number; drainPerHour?: number } = {},
): Battery {
  const start = clock.now();
  const startPercent = opts.startPercent ?? 100;
  const drain = opts.drainPerHour ?? 5;
  return { percent: () => Math.max(0, Math.round(startPercent - ((clock.now() - start) / 3_600_000) * drain)) };
}

/** A signal that wanders around -65 dBm, like a shop's 4G module. */
export function createSimulatedLink(random: () => number = Math.random): NetworkLink {
  return { signalDbm: () => Math.round(-65 - random() * 20) };
}

export interface ButtonEmitter extends Buttons {
  press(button: ButtonName): void;
}

export function createButtonEmitter(): ButtonEmitter {
  const handlers = new Set<(b: ButtonName) => void>();
  return {
    onPress(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    press(button) {
      for (const h of handlers) h(button);
    },
  };
}

/** An LED nobody sees; remembers what it showed, for tests. */
export function createRecordingLed(): StatusLed & { readonly history: DeviceState[] } {
  const history: DeviceState[] = [];
  return { history, set: (state) => history.push(state) };
}

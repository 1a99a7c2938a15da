/**
 * The speaker's life cycle as an explicit transition table: the LED, the display and the
 * state topic all follow this one machine, and an event that makes no sense in the current
 * state (a late `connected` after shutdown began, say) is refused instead of corrupting it.
 */
// eventemitter3, not node:events: the firmware also runs in a browser tab, where node:events does not exist.
import { EventEmitter } from 'eventemitter3';
import { silentLogger, type Logger } from '../src/logger.ts';

export type DeviceState = 'booting' | 'connecting' | 'online' | 'offline' | 'updating';
export type DeviceEvent =
  'booted' | 'connected' | 'connection-lost' | 'retry' | 'update-started' | 'update-finished' | 'update-failed';

export const DEVICE_STATES: readonly DeviceState[] = ['booting', 'connecting', 'online', 'offline', 'updating'];
export const DEVICE_EVENTS: readonly DeviceEvent[] = [
  'booted',
  'connected',
  'connection-lost',
  'retry',
  'update-started',
  'update-finished',
  'update-failed',
];

/** state → event → next state. Anything not listed is refused. */
export const TRANSITIONS: Readonly<Record<DeviceState, Partial<Record<DeviceEvent, DeviceState>>>> = deepFreeze({
  booting: { booted: 'connecting' },
  connecting: { connected: 'online', 'connection-lost': 'offline' },
  online: { 'connection-lost': 'offline', 'update-started': 'updating' },
  offline: { retry: 'connecting' },
  // Reserved for OTA: a good image reboots; a failed one leaves the old firmware running.
  updating: { 'update-finished': 'booting', 'update-failed': 'online' },
});

export interface Transition {
  from: DeviceState;
  to: DeviceState;
  event: DeviceEvent;
  /** Epoch ms, from the injected clock. */
  at: number;
}

export interface DeviceStateMachineOptions {
  now?: () => number;
  log?: Logger;
}

export class DeviceStateMachine extends EventEmitter<{ transition: [Transition] }> {
  private current: DeviceState = 'booting';
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(opts: DeviceStateMachineOptions = {}) {
    super();
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLogger;
  }

  get state(): DeviceState {
    return this.current;
  }

  /** Applies an event; returns the new state. An event the table does not allow is refused: returns false and logs one debug line, the state is unchanged. */
  send(event: DeviceEvent): DeviceState | false {
    const from = this.current;
    const to = TRANSITIONS[from][event];
    if (to === undefined) {
      // Debug, not warn: races such as a second `connection-lost` while offline are normal.
      this.log.debug({ state: from, event }, `state machine: ${event} ignored in state ${from}`);
      return false;
    }
    this.current = to;
    this.emit('transition', { from, to, event, at: this.now() });
    return to;
  }

  /** Resolves when the machine enters `state` (immediately if already there). */
  when(state: DeviceState): Promise<void> {
    if (this.current === state) return Promise.resolve();
    return new Promise((resolve) => {
      const onTransition = (t: Transition) => {
        if (t.to !== state) return;
        this.off('transition', onTransition);
        resolve();
      };
      this.on('transition', onTransition);
    });
  }
}

function deepFreeze<T extends Record<string, object>>(table: T): Readonly<T> {
  for (const row of Object.values(table)) Object.freeze(row);
  return Object.freeze(table);
}

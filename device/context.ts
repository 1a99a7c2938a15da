/**
 * What every firmware extension receives: the device's identity, its hardware, the shared
 * services, and one way to report events. Extensions own their topics and behaviour; they
 * meet only here.
 */
import type { Logger } from '../src/log.ts';
import type { Language } from '../src/speech/index.ts';
import type { Board } from './board.ts';
import type { Announcer } from './announcer.ts';
import type { Connection } from './connection.ts';
import type { DeviceStateMachine } from './state-machine.ts';
import type { PaymentStore } from './stores/payments.ts';
import type { VolumeSetting } from './stores/volume.ts';
import type { SpeakerEvent } from './events.ts';
import type { Trust } from './trust.ts';

export interface FirmwareSettings {
  /** A notification older than this when it arrives was queued while we were offline: summarized, not read out. */
  staleAfterMs: number;
  /** More announcements than this waiting: further payments join one burst summary. */
  burstDepth: number;
  /** How long an offline summary waits for more late notifications before it is spoken. */
  settleMs: number;
  telemetryIntervalMs: number;
  /** Status prompts (power on, network connected/lost); fleets turn them off. */
  prompts: boolean;
  /** How many handled payment ids dedupe remembers (in NVS); anything as old as a forgotten one is refused as a possible replay. */
  rememberedIds: number;
}

export const DEFAULT_SETTINGS: FirmwareSettings = {
  staleAfterMs: 60_000,
  burstDepth: 5,
  settleMs: 300,
  telemetryIntervalMs: 60_000,
  prompts: true,
  rememberedIds: 1000,
};

export interface FirmwareContext {
  readonly id: string;
  readonly brokerUrl: string;
  readonly lang: Language;
  readonly firmwareVersion: string;
  readonly board: Board;
  readonly log: Logger;
  readonly settings: FirmwareSettings;
  readonly machine: DeviceStateMachine;
  readonly connection: Connection;
  readonly announcer: Announcer;
  readonly payments: PaymentStore;
  readonly volume: VolumeSetting;
  readonly trust: Trust;
  emit(event: SpeakerEvent): void;
  /** Redraws the status light and display (queue, last payment). */
  show(): void;
  /** Something in the retained state message changed (the volume): republish it, and redraw. */
  publishState(): void;
}

/** A feature of the firmware: it subscribes to what it needs in start() and lets go in stop(). */
export interface Extension {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

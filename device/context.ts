/**
 * What every firmware extension receives: the device's identity, its hardware, the shared
 * services, and one way to report events. Extensions own their topics and behaviour; they
 * meet only here.
 */
import type { Command, CommandName, CommandResult, FirmwareReport } from '../src/protocol/index.ts';
import type { Logger } from '../src/logger.ts';
import type { Language } from '../src/speech/index.ts';
import type { Board } from './board.ts';
import type { Announcer } from './announcer.ts';
import { DEFAULT_KEEPALIVE_MS, type Connection } from './connection.ts';
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
  /**
   * The MQTT keep-alive (sent in CONNECT in whole seconds, MQTT 3.1.1 §3.1.2.10). It bounds how
   * long a dead link (a black hole: no RST, no FIN) passes for a live one, on both ends: the
   * broker drops a client it has heard nothing from for 1.5× this [MQTT-3.1.2-24] and publishes
   * its last will (offline); the device sends a PINGREQ after this long without a packet from the
   * broker and gives the link up if no PINGRESP comes by 1.5× (MQTT.js's keep-alive check), then
   * reconnects. 20 s: offline within 30 s. What real clouds allow: Alibaba's IoT Platform takes
   * 30–1,200 s and recommends over 300 s; AWS IoT Core's maximum (and its SDKs' default) is
   * 1,200 s; PRODUCT.md notes about 120 s on payment speakers. A longer one saves radio wake-ups
   * and broker pings (10,000 speakers at 20 s send ~500 PINGREQs a second: docs/BENCHMARKS.md);
   * a shorter one notices sooner. A speaker for Alibaba's platform needs at least 30 s (offline
   * within 45 s).
   */
  keepaliveMs: number;
}

export const DEFAULT_SETTINGS: FirmwareSettings = {
  staleAfterMs: 60_000,
  burstDepth: 5,
  settleMs: 300,
  telemetryIntervalMs: 60_000,
  prompts: true,
  rememberedIds: 1000,
  keepaliveMs: DEFAULT_KEEPALIVE_MS,
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
  /** Sends a result on the device's cmd/result topic; rejects if it could not be sent. */
  sendCommandResult(result: CommandResult): Promise<void>;
}

/** Takes one message from a topic; its PUBACK goes back once the returned promise settles. */
export type TopicHandler = (payload: Uint8Array) => Promise<void> | void;

/** What a command answers beside its id and ok (see CommandResult). */
export interface CommandOutcome {
  volume?: number;
  text?: string;
  firmware?: FirmwareReport;
  /** Runs once the answer is out (OTA: restart into the firmware just installed). */
  afterAnswer?: () => void;
}

/** Runs one command; throws with the reason a person reads in the result when it refuses. */
export type CommandHandler = (command: Command) => Promise<CommandOutcome>;

/**
 * A feature of the firmware (the zigbee2mqtt shape): it declares the topics and commands it
 * handles, subscribes to what it needs on the shared services in start() and lets go in stop().
 * The controller (speaker.ts) subscribes to the declared topics and routes each message by them.
 */
export interface Extension {
  /** The device topics it takes messages from, by full topic name. */
  topics?(): Record<string, TopicHandler>;
  /** The commands of the cmd topic it runs (the commands extension routes them). */
  commands?(): Partial<Record<CommandName, CommandHandler>>;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

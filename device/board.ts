/**
 * The hardware the firmware runs on, as small driver interfaces (the ESP-IDF / Zephyr way).
 * Application code in device/ talks only to these; a board file in device/boards/ supplies the
 * implementations: `laptop` (real audio, keyboard, terminal panel), `headless` (tests, fleets),
 * and a Raspberry Pi board fits the same shape.
 */
import type { Pcm } from '../src/audio/pcm.ts';
import type { PlayResult, StagedPlayback } from '../src/audio/sinks/sink.ts';
import type { Nvs } from './drivers/nvs.ts';
import type { DeviceState } from './state-machine.ts';

export type { Nvs };

/** The speaker's audio output. `play` resolves once the sound has finished. */
export interface AudioOut {
  readonly name: string;
  play(pcm: Pcm, label: string): Promise<PlayResult>;
  /** Optional: make the audio ready so that `commit` is instant (see AudioSink.stage). */
  stage?(pcm: Pcm, label: string): Promise<StagedPlayback>;
  /** Optional: finish a staged commit that a crash interrupted (see AudioSink.resume). */
  resume?(token: string): Promise<PlayResult | null>;
  close(): Promise<void>;
}

export interface Clock {
  /** Unix epoch milliseconds. */
  now(): number;
}

export const BUTTONS = ['volume-up', 'volume-down', 'replay', 'summary', 'power'] as const;
export type ButtonName = (typeof BUTTONS)[number];

/** Physical keys. `onPress` returns a function that removes the handler. */
export interface Buttons {
  onPress(handler: (button: ButtonName) => void): () => void;
}

/** The status light: one colour/pattern per device state. */
export interface StatusLed {
  set(state: DeviceState): void;
}

/** What a box with a screen (or the laptop's terminal panel) shows. */
export interface DisplayInfo {
  device: string;
  state: DeviceState;
  volume: number;
  queue: number;
  lastPayment: string | null;
}

export interface Display {
  show(info: DisplayInfo): void;
}

export interface Battery {
  /** 0-100. */
  percent(): number;
}

/** The cellular/Wi-Fi link's radio side (the MQTT session is the firmware's business). */
export interface NetworkLink {
  /** Received signal strength, dBm (e.g. -67). */
  signalDbm(): number;
}

export interface Board {
  readonly name: string;
  readonly audio: AudioOut;
  readonly clock: Clock;
  readonly nvs: Nvs;
  readonly buttons: Buttons;
  readonly led: StatusLed;
  readonly battery: Battery;
  readonly link: NetworkLink;
  /** Boards without a screen leave this out. */
  readonly display?: Display;
  close(): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * The hardware the firmware runs on, as small driver interfaces (the ESP-IDF / Zephyr way).
 * Application code in device/ talks only to these; a board file in device/boards/ supplies the
 * implementations: `laptop` (real audio, keyboard, terminal panel), `headless` (tests, fleets),
 * and a Raspberry Pi board fits the same shape.
 */
import type { KeyObject } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Pcm } from '../src/audio/pcm.ts';
import type { PlayResult, StagedPlayback } from './drivers/audio/sink.ts';
import type { Nvs } from './drivers/nvs.ts';
import type { DeviceState } from './state-machine.ts';
import type { BootState, Slot } from './boot/slots.ts';

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

/** Where the firmware stands on its A/B install. */
export interface FirmwareStatus {
  /** The slot this firmware was started from. */
  running: Slot;
  /** The boot state (device/boot/slots.ts): active slot, versions, trial, last outcome. */
  boot: BootState;
}

/** A temporary file beside the slots that a download is written to; never a slot itself. */
export interface FirmwareDownload {
  readonly stream: Writable;
  /** Removes the file (after installing it, or refusing it). */
  discard(): void;
}

export type FirmwareInstall = { ok: true; slot: Slot; version: string } | { ok: false; slot: Slot; reason: string };

/**
 * The disk's A/B firmware slots, for over-the-air updates (device/extensions/ota.ts). Boards
 * that run from an install made by `payspeaker flash` have one; the laptop and headless boards
 * (and a firmware started outside a slot) leave it out, and OTA is refused there.
 */
export interface FirmwareSlots {
  status(): FirmwareStatus;
  openDownload(): FirmwareDownload;
  /**
   * Empties the inactive slot, unpacks the (already hash- and signature-checked) download into
   * it and checks it against its signed manifest and the expected version. On failure the slot
   * is left empty.
   */
  install(download: FirmwareDownload, expect: { version: string; backendPublicKey: KeyObject }): Promise<FirmwareInstall>;
  /** Makes the installed slot active, on trial until `confirm` or the loader's rollback. */
  beginTrial(t: { version: string; deadlineMs: number; by: string }): void;
  /** This firmware is online: if its slot is on trial, keep it. */
  confirm(): void;
  /** The last outcome (status().boot.last) has been reported to the backend. */
  markReported(): void;
  /** Ends this firmware cleanly so the loader boots the active slot. */
  restart(): void;
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
  /** Boards that run from an A/B install (flash) have one; OTA needs it. */
  readonly firmware?: FirmwareSlots;
  close(): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now() };

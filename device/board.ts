/**
 * The hardware the firmware runs on, as small driver interfaces (the ESP-IDF / Zephyr way).
 * Application code in device/ talks only to these; a board file in device/boards/ supplies the
 * implementations: `laptop` (real audio, keyboard, terminal panel), `headless` (tests, fleets),
 * and `pi` (GPIO buttons and LED, ALSA); device/boot/boards.ts picks one by kind.
 */
import type { KeyObject } from 'node:crypto';
import type { Pcm } from '../src/audio/pcm.ts';
import type { Nvs } from './drivers/nvs.ts';
import type { DeviceState } from './state-machine.ts';
import type { BootState, Slot } from './boot/slots.ts';

export type { Nvs };

export interface PlayResult {
  /** The output's kind (player, file, alsa, memory, none, ...). */
  sink: string;
  /** Where the audio was written, for outputs that write files. */
  file?: string;
  /** Length of the audio played, not wall-clock time. */
  durationMs: number;
}

/** Audio made ready to come out, but not out yet: see AudioOut.stage. */
export interface StagedPlayback {
  /**
   * For outputs that can finish a commit after a crash (a recorder, not a loudspeaker): what
   * `resume` needs to do so. Saved by the firmware in the same write that marks it announced.
   */
  readonly token?: string;
  /** Lets it out; resolves once playback has finished. */
  commit(): Promise<PlayResult>;
  /** Throws it away unplayed. */
  discard(): Promise<void>;
}

/** What `AudioOut.resume` found: the playback, and whether it had already come out before the crash. */
export interface ResumedPlayback {
  playback: PlayResult;
  already: boolean;
}

/**
 * The speaker's audio output: one interface for every driver in drivers/audio/ (player, ALSA,
 * files, memory, none), chosen by that folder's registry.
 */
export interface AudioOut {
  readonly name: string;
  /** Resolves once playback has finished; concurrent calls are queued, never overlapped. */
  play(pcm: Pcm, label: string): Promise<PlayResult>;
  /**
   * Optional two-step play: do all the slow work now (encode, write a hidden file) so that
   * `commit` is nearly instant. The firmware records "announced" durably between the two,
   * which makes a crash repeat or lose an announcement only inside that tiny window.
   */
  stage?(pcm: Pcm, label: string): Promise<StagedPlayback>;
  /**
   * Finishes a commit that a crash interrupted. `already` says the sound had come out before the
   * crash (only the tidy-up was lost). Throws when it cannot come out any more (the staged audio
   * is gone): the firmware then announces it again rather than count it as heard.
   */
  resume?(token: string): Promise<ResumedPlayback>;
  /** Waits for queued playback, then refuses further calls. */
  close(): Promise<void>;
}

/** A pending timer from the board's clock. */
export interface Timer {
  cancel(): void;
}

export interface TimerOptions {
  /** A background timer does not keep the process alive on its own (Node's `unref`). */
  background?: boolean;
}

/**
 * Time, as the board keeps it. Wall time for what is reported (`now`), a monotonic count for
 * durations that must not jump when the wall clock is set (`monotonic`), and timers, so the
 * firmware never calls the platform's own and a test can drive them (drivers/clock.ts).
 */
export interface Clock {
  /** Unix epoch milliseconds. */
  now(): number;
  /** Milliseconds from an arbitrary origin; never goes back. */
  monotonic(): number;
  /** Calls `fn` once, `ms` from now. */
  after(ms: number, fn: () => void, opts?: TimerOptions): Timer;
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void, opts?: TimerOptions): Timer;
  /**
   * A real-time clock the firmware may set, as boxes set theirs from the network: `now` reads
   * `epochMs` from here on; `monotonic` and timers are not affected. The firmware sets it from
   * the broker's signed time (device/extensions/time.ts). Absent: the clock cannot be set.
   */
  set?(epochMs: number): void;
  /**
   * True once the wall time has been set (`set`) since the board started: a clock that was never
   * set may be one whose battery ran out (1970). Absent: the board cannot tell (treated as never set).
   */
  synced?(): boolean;
}

/** Resolves after `ms` on the board's clock. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
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

/** The platform's cryptographically secure random numbers (node:crypto, WebCrypto, a chip's TRNG). */
export interface RandomSource {
  bytes(n: number): Uint8Array;
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

/** A downloaded release: a temporary file beside the slots, never a slot itself. */
export interface FirmwareDownload {
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
  /**
   * Fetches a release's tarball from `url` (at most `limits.size` bytes, within
   * `limits.timeoutMs`) into a temporary file; resolves with it and its sha256. Rejects with the
   * reason (unreachable, an HTTP error, the wrong length, too slow), leaving nothing behind.
   */
  download(
    url: string,
    limits: { size: number; timeoutMs: number },
  ): Promise<{ download: FirmwareDownload; sha256: string }>;
  /**
   * Empties the inactive slot, unpacks the (already hash- and signature-checked) download into
   * it and checks it against its signed manifest and the expected version. On failure the slot
   * is left empty.
   */
  install(
    download: FirmwareDownload,
    expect: { version: string; backendPublicKey: KeyObject },
  ): Promise<FirmwareInstall>;
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
  /** Nonces (the time request's). */
  readonly random: RandomSource;
  /** Boards without a screen leave this out. */
  readonly display?: Display;
  /** Boards that run from an A/B install (flash) have one; OTA needs it. */
  readonly firmware?: FirmwareSlots;
  close(): Promise<void>;
}

/**
 * The hardware the firmware runs on, as small driver interfaces. Application code in device/
 * talks only to these; a board file in device/boards/ supplies the implementations
 * (laptop, headless; a Raspberry Pi board fits the same shape).
 */
import type { Pcm } from '../src/audio/pcm.ts';
import type { PlayResult } from '../src/audio/sinks/sink.ts';

/** The speaker's audio output. `play` resolves once the sound has finished. */
export interface AudioOut {
  readonly name: string;
  play(pcm: Pcm, label: string): Promise<PlayResult>;
  close(): Promise<void>;
}

export interface Clock {
  /** Unix epoch milliseconds. */
  now(): number;
}

export interface Board {
  readonly name: string;
  readonly audio: AudioOut;
  readonly clock: Clock;
  close(): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Shapes shared by the registry and the per-language files (kept apart so neither imports the other's module). */
import type { Channel, Kind } from '../protocol/channels.ts';

/** What a speaker announces. `amount` is an integer count of minor units of `currency`. */
export interface Announcement {
  amount: number;
  currency: string;
  channel: Channel;
  kind: Kind;
}

/** Fixed sentences a speaker says about itself, not about money. */
export type Prompt =
  'power-on' | 'network-connected' | 'network-lost' | 'volume-max' | 'volume-min' | 'no-records' | 'low-battery';

/** A sum of money in one currency: integer minor units plus an ISO 4217 code. */
export interface Total {
  amount: number;
  currency: string;
}

/**
 * Everything a speaker can say. Summaries carry one total per currency, in the order to say them.
 * A payment said again (the replay button or command) has `replay: true`: it opens with a prefix
 * (重复播报, "Repeat:", "दोबारा:") so it never sounds like a new payment.
 */
export type Message =
  | { type: 'payment'; payment: Announcement; replay?: boolean }
  | { type: 'prompt'; prompt: Prompt }
  | { type: 'summary'; scope: 'today' | 'offline' | 'burst'; count: number; totals: Total[] }
  | { type: 'battery'; percent: number };

/**
 * A message as said: the whole sentence (for a TTS engine) and the same sentence as voice-pack
 * clip keys in order (for firmware that joins prerecorded clips).
 */
export interface Utterance {
  text: string;
  clips: string[];
}

/** One prerecorded unit of a voice pack; `text` is what to synthesise to record it. */
export interface Clip {
  key: string;
  text: string;
}

/** One spoken language: a BCP-47 code, what it says for a message, and every clip it may use. */
export interface SpeechLanguage {
  readonly code: string;
  say(message: Message): Utterance;
  vocabulary(): Clip[];
}

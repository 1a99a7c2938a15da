/** Shapes shared by the registry and the per-language files (kept apart so neither imports the other's module). */
import type { Channel, Kind } from '../protocol/channels.ts';

/** What a speaker announces. `amount` is an integer count of minor units of `currency`. */
export interface Announcement {
  amount: number;
  currency: string;
  channel: Channel;
  kind: Kind;
}

/** One spoken language: a BCP-47 code and the sentence it speaks for an announcement. */
export interface SpeechLanguage {
  readonly code: string;
  phrase(announcement: Announcement): string;
}

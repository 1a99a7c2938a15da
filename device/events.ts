/** What a speaker reports as it works: printed by the CLI, one JSON object per line with --json. */
import type { Channel, Kind, RejectionReason } from '../src/protocol/index.ts';

export type SpeakerEvent =
  | { event: 'online'; device: string; broker: string }
  | { event: 'offline'; device: string; broker: string }
  | {
      event: 'announced';
      device: string;
      id: string;
      text: string;
      status: 'played';
      amount: number;
      currency: string;
      channel: Channel;
      kind: Kind;
      /** From the payment's creation at the backend to the end of playback. */
      latencyMs: number;
      durationMs: number;
      sink: string;
      file?: string;
    }
  | { event: 'duplicate'; device: string; id: string }
  | { event: 'rejected'; device: string; id: string | null; reason: RejectionReason; detail: string };

/** What a speaker reports as it works: printed by the CLI, one JSON object per line with --json. */
import type { Channel, CommandName, Kind, RejectionReason } from '../src/protocol/index.ts';
import type { Prompt } from '../src/speech/index.ts';
import type { DeviceState } from './state-machine.ts';

export type SpeakerEvent =
  | { event: 'state'; device: string; state: DeviceState; from: DeviceState }
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
  | {
      event: 'summarized';
      device: string;
      scope: 'offline' | 'burst';
      ids: string[];
      count: number;
      text: string;
      /** This announcement's own key: reported again with the same key if a crash interrupted it. */
      key: string;
      /** Where the audio was written, for outputs that write files. */
      file?: string;
    }
  | { event: 'duplicate'; device: string; id: string }
  | { event: 'rejected'; device: string; id: string | null; reason: RejectionReason; detail: string }
  | { event: 'spoke'; device: string; what: Prompt | 'replay' | 'summary' | 'battery'; text: string }
  | { event: 'volume'; device: string; volume: number }
  | { event: 'command'; device: string; id: string | null; command: CommandName | null; ok: boolean; error?: string };

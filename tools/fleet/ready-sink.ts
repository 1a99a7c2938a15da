/**
 * The fleet's audio output: the last stage of the device pipeline without the loudspeaker. It
 * notes the moment the announcement's PCM reached it — rendered, volume applied, ready to
 * play — and keeps nothing, so 10,000 speakers fit in one machine's memory.
 */
import { durationMs, type Pcm } from '../../src/audio/pcm.ts';
import type { PlayResult } from '../../device/board.ts';
import type { AudioOut } from '../../device/board.ts';
import { preciseNow } from './clock.ts';

export interface ReadySink extends AudioOut {
  /** When the audio labelled `label` (a payment id, or `summary-burst`) was ready; forgotten once taken. */
  take(label: string): number | undefined;
}

export function createReadySink(): ReadySink {
  // Usually empty between announcements: the speaker's event follows its audio within microtasks.
  const ready = new Map<string, number>();
  return {
    name: 'fleet',
    async play(pcm: Pcm, label: string): Promise<PlayResult> {
      ready.set(label, preciseNow());
      return { sink: 'fleet', durationMs: durationMs(pcm) };
    },
    take(label) {
      const at = ready.get(label);
      ready.delete(label);
      return at;
    },
    async close() {},
  };
}

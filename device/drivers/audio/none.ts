import { durationMs, type Pcm } from '../../../src/audio/pcm.ts';
import type { AudioOut, PlayResult } from '../../board.ts';

/** Discards audio (`--audio none`): the announcement still happens, silently. */
export function createNoneSink(): AudioOut {
  return {
    name: 'none',
    async play(pcm: Pcm): Promise<PlayResult> {
      return { sink: 'none', durationMs: durationMs(pcm) };
    },
    async close() {},
  };
}

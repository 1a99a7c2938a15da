import { durationMs, type Pcm } from '../../../src/audio/pcm.ts';
import type { AudioSink, PlayResult } from './sink.ts';

/** Discards audio (`--audio none`): the announcement still happens, silently. */
export function createNoneSink(): AudioSink {
  return {
    name: 'none',
    async play(pcm: Pcm): Promise<PlayResult> {
      return { sink: 'none', durationMs: durationMs(pcm) };
    },
    async close() {},
  };
}

import { durationMs, type Pcm } from '../../../src/audio/pcm.ts';
import { closedError } from './closed.ts';
import { type AudioOut, type PlayResult } from '../../board.ts';

/** Keeps what was "played", for tests and fleets that inspect audio rather than hear it. */
export interface MemorySink extends AudioOut {
  readonly played: Pcm[];
  /** labels[i] is the label passed with played[i]. */
  readonly labels: string[];
}

export function createMemorySink(): MemorySink {
  let closed = false;
  const played: Pcm[] = [];
  const labels: string[] = [];
  return {
    name: 'memory',
    played,
    labels,
    async play(pcm: Pcm, label: string): Promise<PlayResult> {
      if (closed) throw closedError('memory');
      played.push(pcm);
      labels.push(label);
      return { sink: 'memory', durationMs: durationMs(pcm) };
    },
    async close() {
      closed = true;
    },
  };
}

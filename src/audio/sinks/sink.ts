import type { Pcm } from '../pcm.ts';

export interface PlayResult {
  sink: string;
  /** Where the audio was written, for sinks that write files. */
  file?: string;
  /** Length of the audio played, not wall-clock time. */
  durationMs: number;
}

export interface AudioSink {
  readonly name: string;
  /** Resolves once playback has finished; concurrent calls are queued, never overlapped. */
  play(pcm: Pcm, label: string): Promise<PlayResult>;
  /** Waits for queued playback, then refuses further calls. */
  close(): Promise<void>;
}

export function closedError(sink: string): Error {
  return new Error(`audio sink "${sink}" is closed`);
}

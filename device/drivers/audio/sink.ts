import type { Pcm } from '../../../src/audio/pcm.ts';

export interface PlayResult {
  sink: string;
  /** Where the audio was written, for sinks that write files. */
  file?: string;
  /** Length of the audio played, not wall-clock time. */
  durationMs: number;
}

/** Audio made ready to come out, but not out yet: see AudioSink.stage. */
export interface StagedPlayback {
  /**
   * For outputs that can finish a commit after a crash (a recorder, not a loudspeaker): what
   * `resume` needs to do so. Saved by the firmware in the same write that marks it announced.
   */
  readonly token?: string;
  /** Lets it out; resolves once playback has finished. */
  commit(): Promise<PlayResult>;
  /** Throws it away unplayed. */
  discard(): Promise<void>;
}

export interface AudioSink {
  readonly name: string;
  /** Resolves once playback has finished; concurrent calls are queued, never overlapped. */
  play(pcm: Pcm, label: string): Promise<PlayResult>;
  /**
   * Optional two-step play: do all the slow work now (encode, write a hidden file) so that
   * `commit` is nearly instant. The firmware records "announced" durably between the two,
   * which makes a crash repeat or lose an announcement only inside that tiny window.
   */
  stage?(pcm: Pcm, label: string): Promise<StagedPlayback>;
  /** Finishes a commit that a crash interrupted; null when there was nothing left to do. */
  resume?(token: string): Promise<PlayResult | null>;
  /** Waits for queued playback, then refuses further calls. */
  close(): Promise<void>;
}

export function closedError(sink: string): Error {
  return new Error(`audio sink "${sink}" is closed`);
}

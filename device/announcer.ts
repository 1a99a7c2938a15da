/**
 * The speaker's mouth: one announcement at a time, in the order asked, never overlapping.
 * Each job yields an utterance (lazily, so a summary can gather everything that arrived while
 * it waited in line), which the voice renders at the volume setting and the board plays.
 */
import { createSerialQueue } from '../src/audio/serial.ts';
import type { PlayResult, StagedPlayback } from './board.ts';
import type { Pcm } from '../src/audio/pcm.ts';
import type { Language, Utterance } from '../src/speech/index.ts';
import type { Voice } from '../src/voice/voice.ts';
import type { AudioOut } from './board.ts';

export interface SayOptions {
  /** Overrides the volume setting (a "minimum volume" prompt must stay audible when muted). */
  volume?: number;
  /**
   * Runs when the audio is ready and just before it comes out: where the firmware records the
   * announcement as done, so a crash can repeat or lose it only in the instant between.
   */
  beforePlay?: (u: Utterance, token: string | undefined) => Promise<void>;
}

export interface Spoken {
  utterance: Utterance;
  playback: PlayResult;
}

export class Announcer {
  private readonly queue = createSerialQueue();
  private queued = 0;

  constructor(
    private readonly voice: Voice,
    private readonly audio: AudioOut,
    private readonly lang: Language,
    private readonly volume: () => number,
  ) {}

  /** Announcements waiting or playing. */
  get pending(): number {
    return this.queued;
  }

  /** Queues an announcement; resolves once it has been played. */
  say(label: string, utterance: () => Utterance | Promise<Utterance>, opts: SayOptions = {}): Promise<Spoken> {
    this.queued += 1;
    return this.queue
      .run(async () => {
        const u = await utterance();
        const pcm = await this.voice.render(u, this.lang, opts.volume ?? this.volume());
        const staged = await this.stage(pcm, label);
        try {
          await opts.beforePlay?.(u, staged.token);
        } catch (err) {
          await staged.discard();
          throw err;
        }
        return { utterance: u, playback: await staged.commit() };
      })
      .finally(() => (this.queued -= 1));
  }

  /** Outputs that cannot stage (a loudspeaker) simply play at commit. */
  private stage(pcm: Pcm, label: string): Promise<StagedPlayback> {
    if (this.audio.stage) return this.audio.stage(pcm, label);
    return Promise.resolve({ commit: () => this.audio.play(pcm, label), discard: async () => undefined });
  }

  /** Resolves once everything queued so far has been played. */
  idle(): Promise<void> {
    return this.queue.idle();
  }
}

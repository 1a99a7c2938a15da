/**
 * The speaker's mouth: one announcement at a time, in the order asked, never overlapping.
 * Each job yields an utterance (lazily, so a summary can gather everything that arrived while
 * it waited in line), which the voice renders, the volume scales and the board plays.
 */
import { applyVolume } from '../src/audio/volume.ts';
import { createSerialQueue } from '../src/audio/serial.ts';
import type { PlayResult } from '../src/audio/sinks/sink.ts';
import type { Language, Utterance } from '../src/speech/index.ts';
import type { Voice } from '../src/voice/voice.ts';
import type { AudioOut } from './board.ts';

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

  /**
   * Queues an announcement; resolves once it has been played. `volume` overrides the setting
   * (a "minimum volume" prompt must stay audible even when the box is muted).
   */
  say(label: string, utterance: () => Utterance | Promise<Utterance>, volume?: number): Promise<Spoken> {
    this.queued += 1;
    return this.queue
      .run(async () => {
        const u = await utterance();
        const pcm = applyVolume(await this.voice.render(u, this.lang), volume ?? this.volume());
        return { utterance: u, playback: await this.audio.play(pcm, label) };
      })
      .finally(() => (this.queued -= 1));
  }

  /** Resolves once everything queued so far has been played. */
  idle(): Promise<void> {
    return this.queue.idle();
  }
}

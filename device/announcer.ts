/**
 * Turns accepted notifications into sound, one at a time and in arrival order: build the
 * phrase, synthesise it, play it. Nothing ever overlaps, because every job waits for the
 * one before it.
 */
import type { Notification } from '../src/protocol/index.ts';
import { phrase, type Language } from '../src/speech/index.ts';
import type { TtsEngine } from '../src/audio/tts/engine.ts';
import type { PlayResult } from '../src/audio/sinks/sink.ts';
import type { AudioOut } from './board.ts';

export interface Announcement {
  notification: Notification;
  text: string;
  playback: PlayResult;
}

export class Announcer {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  constructor(
    private readonly voice: TtsEngine,
    private readonly audio: AudioOut,
    private readonly lang: Language,
  ) {}

  /** Number of announcements waiting or playing. */
  get pending(): number {
    return this.queued;
  }

  /** Queues an announcement; resolves when it has been played (or rejects if it could not be). */
  announce(notification: Notification): Promise<Announcement> {
    this.queued += 1;
    const job = this.tail.then(() => this.speak(notification));
    this.tail = job.catch(() => undefined).finally(() => (this.queued -= 1));
    return job;
  }

  /** Resolves once everything queued so far has been played. */
  async idle(): Promise<void> {
    while (this.queued > 0) await this.tail;
  }

  private async speak(notification: Notification): Promise<Announcement> {
    const text = phrase(notification, this.lang);
    const pcm = await this.voice.synthesize(text, this.lang);
    const playback = await this.audio.play(pcm, notification.id);
    return { notification, text, playback };
  }
}

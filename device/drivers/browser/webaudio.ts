/**
 * Audio out through WebAudio, for the browser board: each clip becomes a mono AudioBuffer at the
 * PCM's own rate (the context resamples to the sound card's), played by an
 * AudioBufferSourceNode. One clip at a time, like the other outputs: `play` queues.
 *
 * A clip is over when its source node fires `ended`. A context the browser keeps suspended
 * (autoplay policy: no click on the page yet) never advances its clock, so `ended` never comes:
 * a fallback timer of the clip's length plus a margin resolves `play` anyway, stops the source
 * (so a late click does not play stale audio over the next clip) and reports the clip as unheard.
 * The firmware keeps its timing either way; the page can say "click to hear the speaker".
 *
 * Every clip handed to WebAudio goes into a running digest (pcm-digest.ts) that tests read
 * through `playedDigest()`.
 */
import { durationMs, type Pcm } from '../../../src/audio/pcm.ts';
import type { AudioOut, Clock, PlayResult } from '../../board.ts';
import { closedError } from '../audio/closed.ts';
import { systemClock } from '../clock.ts';
import { createListeners } from './listeners.ts';
import { clipDigest, PcmDigest, pcmToFloat32, type PlayedDigest } from './pcm-digest.ts';

export type { PlayedDigest };

/**
 * The parts of WebAudio this driver uses. A real AudioContext is one; a test can write a small
 * stand-in (WebAudio does not exist in Node).
 */
export interface AudioContextLike {
  /** 'running' plays; 'suspended' (autoplay policy), 'interrupted' (Safari) or 'closed' do not. */
  readonly state: string;
  readonly destination: unknown;
  createBuffer(numberOfChannels: number, length: number, sampleRate: number): AudioBufferLike;
  createBufferSource(): AudioSourceLike;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export interface AudioBufferLike {
  copyToChannel(source: Float32Array<ArrayBuffer>, channelNumber: number): void;
}

export interface AudioSourceLike {
  buffer: AudioBufferLike | null;
  onended: ((ev: Event) => unknown) | null;
  connect(destination: unknown): unknown;
  disconnect(): void;
  start(): void;
  stop(): void;
}

/** A clip as it starts: its label (for the transcript), length, sample count, and its own digest and peak. */
export interface ClipInfo {
  label: string;
  durationMs: number;
  samples: number;
  /** Hex SHA-256 of this clip's little-endian int16 PCM: a test compares it with what the Node voice renders. */
  sha256: string;
  /** Largest absolute sample of this clip: what the volume buttons change. */
  peak: number;
}

export interface WebAudioOut extends AudioOut {
  /** SHA-256, sample count and peak of all PCM handed to WebAudio so far, in play order. */
  playedDigest(): Promise<PlayedDigest>;
  /** Called as each clip starts; returns the unsubscribe. */
  onPlay(listener: (clip: ClipInfo) => void): () => void;
  /** Called when a clip's time passed while the context was not running (`state` says how it was): nobody heard it. */
  onUnheard(listener: (clip: ClipInfo & { state: string }) => void): () => void;
}

export interface WebAudioOptions {
  /** Runs the fallback timer. Default: the system clock (so vitest's fake timers drive it). */
  clock?: Pick<Clock, 'after'>;
  /**
   * Added to a clip's length before the fallback timer gives up on `ended`. Generous, because a
   * running context fires `ended` only once its output has drained, after the clip's length.
   */
  endMarginMs?: number;
  /** close() also closes the context: true when the board made the context, false when the page shares one. */
  closeContext?: boolean;
}

export const DEFAULT_END_MARGIN_MS = 500;

export function createWebAudioOut(ctx: AudioContextLike, opts: WebAudioOptions = {}): WebAudioOut {
  const clock = opts.clock ?? systemClock;
  const margin = opts.endMarginMs ?? DEFAULT_END_MARGIN_MS;
  const digest = new PcmDigest();
  const started = createListeners<ClipInfo>();
  const unheard = createListeners<ClipInfo & { state: string }>();
  let closed = false;
  let contextClosed: Promise<void> | null = null;
  // The queue: each clip starts once the one before it has settled.
  let tail: Promise<unknown> = Promise.resolve();

  async function playOne(pcm: Pcm, label: string): Promise<PlayResult> {
    const clip: ClipInfo = {
      label,
      durationMs: durationMs(pcm),
      samples: pcm.samples.length,
      ...clipDigest(pcm.samples),
    };
    const result: PlayResult = { sink: 'webaudio', durationMs: clip.durationMs };
    if (clip.samples === 0) {
      // WebAudio refuses a zero-length buffer; nothing to hear, but the transcript still says it.
      started.emit(clip);
      return result;
    }
    const buffer = ctx.createBuffer(1, clip.samples, pcm.sampleRate);
    buffer.copyToChannel(pcmToFloat32(pcm), 0);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    // In Chrome resume() settles only after a user gesture: asked for, never awaited.
    if (ctx.state === 'suspended') ctx.resume().catch(() => undefined);
    digest.add(pcm.samples);
    started.emit(clip);
    await untilEnded(source, clip, () => unheard.emit({ ...clip, state: ctx.state }));
    return result;
  }

  function untilEnded(source: AudioSourceLike, clip: ClipInfo, reportUnheard: () => void): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      let extended = false;
      const finish = (ended: boolean) => {
        if (done) return;
        done = true;
        timer.cancel();
        source.onended = null;
        if (!ended) {
          try {
            source.stop();
          } catch {
            // already stopped: nothing to silence
          }
          if (ctx.state !== 'running') reportUnheard();
        }
        source.disconnect();
        resolve();
      };
      const fallback = () => {
        // Running now but no `ended` yet: the context was resumed mid-clip (a click), so the clip
        // started late and is playing. Give it one more length rather than overlap the next one.
        if (ctx.state === 'running' && !extended) {
          extended = true;
          timer = clock.after(clip.durationMs + margin, fallback);
          return;
        }
        finish(false);
      };
      let timer = clock.after(clip.durationMs + margin, fallback);
      source.onended = () => finish(true);
      source.start();
    });
  }

  return {
    name: 'webaudio',
    play(pcm, label) {
      if (closed) return Promise.reject(closedError('webaudio'));
      const run = tail.then(() => playOne(pcm, label));
      tail = run.catch(() => undefined);
      return run;
    },
    async close() {
      closed = true;
      await tail;
      if (opts.closeContext) await (contextClosed ??= ctx.close().catch(() => undefined));
    },
    playedDigest: async () => digest.current(),
    onPlay: (listener) => started.add(listener),
    onUnheard: (listener) => unheard.add(listener),
  };
}

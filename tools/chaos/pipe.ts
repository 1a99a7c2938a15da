/**
 * One direction of a proxied connection: bytes read from one socket, written to the other,
 * with optional latency and the ability to hold everything (a blackhole).
 *
 * Held bytes are kept, not thrown away: on a real half-dead link TCP retransmits what was
 * lost once the path heals, so the stream arrives late but whole. Discarding chunks would cut
 * MQTT packets in half, a corruption no real network produces. Past HIGH_WATER bytes the
 * source is paused, as a full TCP window would stop the sender.
 */
import type { Socket } from 'node:net';
import type { ChaosClock, Timers } from './clock.ts';
import type { Latency } from './faults.ts';
import type { FaultRandom } from './random.ts';

const HIGH_WATER = 1024 * 1024;

/** What a pipe needs from its connection. */
export interface PipeEnv {
  clock: ChaosClock;
  timers: Timers;
  /** The latency in force now (read per chunk, so a change applies to the next chunk). */
  latency(): Latency;
  jitter: FaultRandom;
  /** Told the size of every chunk handed to the destination. */
  delivered(bytes: number): void;
  /** Told when the FIN has been passed on, so the connection can bound how long it lingers. */
  ended(): void;
}

/** A chunk, or null for the end of the stream (the FIN), due at a moment. */
type Queued = { due: number; chunk: Buffer | null };

export class Pipe {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  /** Never schedule a chunk before the one ahead of it: jitter must not reorder the stream. */
  private lastDue = 0;
  private held = false;
  private closed = false;
  private cancelFlush: (() => void) | null = null;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly env: PipeEnv,
  ) {
    to.on('drain', () => this.resumeIfRoom());
  }

  carry(chunk: Buffer): void {
    if (this.closed) return;
    const { delayMs, jitterMs } = this.env.latency();
    if (delayMs === 0 && jitterMs === 0 && this.queue.length === 0 && !this.held) return this.write(chunk);
    this.enqueue(chunk, delayMs + (jitterMs > 0 ? this.env.jitter.float() * jitterMs : 0));
  }

  /** The source sent its FIN: pass it on after everything still queued. */
  finish(): void {
    if (this.closed) return;
    if (this.queue.length === 0 && !this.held) return this.endDestination();
    this.enqueue(null, this.env.latency().delayMs);
  }

  hold(): void {
    this.held = true;
    this.cancelFlush?.();
    this.cancelFlush = null;
  }

  release(): void {
    this.held = false;
    this.flush();
  }

  /** Nothing more goes through: the destination is gone, or the connection was cut. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.cancelFlush?.();
    this.cancelFlush = null;
  }

  private enqueue(chunk: Buffer | null, latencyMs: number): void {
    const due = Math.max(this.lastDue, this.env.clock.now() + latencyMs);
    this.lastDue = due;
    this.queue.push({ due, chunk });
    this.queuedBytes += chunk?.length ?? 0;
    if (this.queuedBytes > HIGH_WATER) this.from.pause();
    if (!this.cancelFlush) this.flush();
  }

  private flush(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
    if (this.held || this.closed) return;
    const now = this.env.clock.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { chunk } = this.queue.shift()!;
      if (chunk === null) this.endDestination();
      else {
        this.queuedBytes -= chunk.length;
        this.write(chunk);
      }
    }
    const head = this.queue[0];
    if (head) this.cancelFlush = this.env.timers.after(Math.ceil(head.due - now), () => this.flush());
    this.resumeIfRoom();
  }

  private write(chunk: Buffer): void {
    if (!this.to.writable) return; // the connection handles the close
    this.env.delivered(chunk.length);
    if (!this.to.write(chunk)) this.from.pause();
  }

  private endDestination(): void {
    if (!this.to.writable) return;
    this.to.end();
    this.env.ended();
  }

  private resumeIfRoom(): void {
    if (this.closed || this.from.destroyed || !this.from.isPaused()) return;
    if (this.queuedBytes <= HIGH_WATER && !this.to.writableNeedDrain) this.from.resume();
  }
}

/**
 * Time from the broker: on every connect the speaker asks the broker for the time with a fresh
 * nonce (`time/req`), takes only the answer that carries that nonce and the backend's signature
 * (`time`; src/protocol/time.ts), and sets the board's clock when it is more than 2 s off, as a
 * real box sets its clock from the network. Until then a box whose clock lost power reads 1970
 * and would refuse every payment as from the future; the payments extension holds such payments
 * instead and lets them through once this says the clock is right (`onSynced`).
 *
 * The broker's time at receipt is estimated as its `now` plus half the round trip, measured on
 * the monotonic clock (which setting the wall clock does not move). An answer that took longer
 * than MAX_ROUND_TRIP_MS is not used: half of a long, uneven trip is a poor guess, and a delayed
 * answer is the one way left to skew a clock with a genuine signature. Without an answer the
 * speaker asks again, 5 s later, then less and less often (at most every 5 min) while online.
 */
import {
  encodeTimeRequest,
  timeNonce,
  parseTimeAnswer,
  topics,
  verifyTimeAnswerWith,
  PROTOCOL_VERSION,
} from '../../src/protocol/index.ts';
import type { Timer } from '../board.ts';
import type { Extension, FirmwareContext, TopicHandler } from '../context.ts';
import { clockTrusted } from '../trust.ts';

/** A board clock closer than this to the broker's is left alone. */
export const CLOCK_TOLERANCE_MS = 2000;
/** An answer slower than this is not used (see the file comment). */
export const MAX_ROUND_TRIP_MS = 10_000;
const FIRST_RETRY_MS = 5000;
const MAX_RETRY_MS = 5 * 60_000;

export interface TimeExtensionOptions {
  /** Called after each answer taken, once the board clock is right (set, or already within 2 s). */
  onSynced?: () => void;
}

export class TimeExtension implements Extension {
  /** The request waiting for its answer: its nonce, and when it went out (monotonic). */
  private asked: { nonce: string; sentAt: number } | null = null;
  private retry: Timer | null = null;
  private retryMs = FIRST_RETRY_MS;
  /** An answer has confirmed (or set) the board clock since boot. */
  private confirmed = false;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly ctx: FirmwareContext,
    private readonly opts: TimeExtensionOptions = {},
  ) {}

  /** Whether the board clock can judge freshness: confirmed by the broker, set, or plausible (trust.ts). */
  trusted(): boolean {
    return this.confirmed || clockTrusted(this.ctx.board.clock);
  }

  topics(): Record<string, TopicHandler> {
    return { [topics.time(this.ctx.id)]: (payload) => this.take(payload) };
  }

  start(): void {
    const { connection } = this.ctx;
    const onOnline = () => {
      this.retryMs = FIRST_RETRY_MS;
      this.ask();
    };
    const onOffline = () => this.cancel();
    connection.on('online', onOnline);
    connection.on('offline', onOffline);
    this.offs.push(
      () => connection.off('online', onOnline),
      () => connection.off('offline', onOffline),
    );
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    this.cancel();
  }

  private cancel(): void {
    this.retry?.cancel();
    this.retry = null;
    this.asked = null;
  }

  /** Sends a request with a fresh nonce (which replaces any earlier one) and plans the next. */
  private ask(): void {
    const { ctx } = this;
    const { clock } = ctx.board;
    this.retry?.cancel();
    const nonce = timeNonce(ctx.board.random.bytes(16));
    this.asked = { nonce, sentAt: clock.monotonic() };
    ctx.connection
      .publish(topics.timeRequest(ctx.id), encodeTimeRequest({ v: PROTOCOL_VERSION, nonce }), { qos: 0 })
      .catch((err: Error) => ctx.log.debug({ err: err.message }, 'could not ask the broker for the time'));
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.retry = clock.after(
      wait,
      () => {
        this.retry = null;
        if (this.asked?.nonce === nonce && ctx.connection.connected) this.ask();
      },
      { background: true },
    );
  }

  private async take(payload: Uint8Array): Promise<void> {
    const { ctx } = this;
    const { clock } = ctx.board;
    // Read at arrival: the signature check below may take a while (WebCrypto is async).
    const arrivedAt = clock.monotonic();
    const parsed = parseTimeAnswer(payload, ctx.id);
    if (!parsed.ok) return this.ignore(`${parsed.reason}: ${parsed.detail}`);
    const answer = parsed.value;
    const asked = this.asked;
    if (!asked || answer.nonce !== asked.nonce) {
      return this.ignore('its nonce is not the one this speaker asked with (a stale, replayed or forged answer)');
    }
    const key = ctx.trust.publicKey;
    if (key) {
      const signed = await verifyTimeAnswerWith(answer, key);
      if (!signed.ok) return this.ignore(`bad signature: ${signed.detail}`);
      // Asked again meanwhile (a reconnect): this answer is for a request that no longer counts.
      if (this.asked !== asked) return;
    }
    const roundTrip = arrivedAt - asked.sentAt;
    if (roundTrip > MAX_ROUND_TRIP_MS) {
      // Still asked: the retry timer sends a new request with a new nonce.
      return this.ignore(`it came back after ${Math.round(roundTrip)} ms, too late to tell the time by`);
    }
    this.retry?.cancel();
    this.retry = null;
    this.asked = null;
    const brokerNow = answer.now + Math.round(roundTrip / 2);
    const was = clock.now();
    const off = brokerNow - was;
    if (Math.abs(off) > CLOCK_TOLERANCE_MS) {
      if (!clock.set) {
        ctx.log.warn(
          { offMs: off },
          `the board clock is off by ${describeOffset(off)} from the broker's, and this board cannot set it`,
        );
        return;
      }
      clock.set(brokerNow);
      ctx.log.info(
        { was, now: brokerNow, offMs: off, roundTripMs: Math.round(roundTrip) },
        `clock set from the broker: was ${iso(was)}, now ${iso(brokerNow)}, off by ${describeOffset(off)}`,
      );
    }
    this.confirmed = true;
    this.opts.onSynced?.();
  }

  private ignore(why: string): void {
    this.ctx.log.warn(`ignored a time answer: ${why}`);
  }
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** 1795528613108 → "20781.6 days (behind)"; 3500 → "3.5 s (ahead)": which way the board clock was wrong. */
function describeOffset(off: number): string {
  const abs = Math.abs(off);
  const way = off > 0 ? 'behind' : 'ahead';
  const size =
    abs >= 86_400_000
      ? `${(abs / 86_400_000).toFixed(1)} days`
      : abs >= 3_600_000
        ? `${(abs / 3_600_000).toFixed(1)} h`
        : abs >= 60_000
          ? `${(abs / 60_000).toFixed(1)} min`
          : `${(abs / 1000).toFixed(1)} s`;
  return `${size} (${way})`;
}

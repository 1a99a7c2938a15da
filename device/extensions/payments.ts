/**
 * Payments: the speaker's reason to exist. Takes notifications from its own topic, stores each
 * durably before the broker's PUBACK, announces each id once, summarizes what arrived late
 * (queued while offline) or in a burst, and acks every one with its final status.
 */
import {
  encodeAck,
  parseNotification,
  topics,
  PROTOCOL_VERSION,
  type Ack,
  type Notification,
  type Rejection,
} from '../../src/protocol/index.ts';
import { utter, type Total, type Utterance } from '../../src/speech/index.ts';
import { sleep, type PlayResult, type ResumedPlayback } from '../board.ts';
import type { Extension, FirmwareContext, TopicHandler } from '../context.ts';
import type { InFlight, OwedAck } from '../stores/payments.ts';
import { clockTrusted } from '../trust.ts';

type Scope = 'offline' | 'burst';

interface Batch {
  items: Notification[];
  /** Monotonic times (board.clock.monotonic): how long the rush has lasted, not what the wall clock says. */
  openedAt: number;
  lastAdded: number;
}

/** An offline summary waits for the rush of queued notifications to end, but never longer than this. */
const MAX_SETTLE_MS = 3000;

export interface PaymentsOptions {
  /**
   * Whether the board clock can judge freshness (the time extension: set from the broker, or
   * plausible). Default: trust.ts's clockTrusted on the board clock.
   */
  clockTrusted?: () => boolean;
}

export class PaymentsExtension implements Extension {
  private readonly batches: Partial<Record<Scope, Batch>> = {};
  private deliveries = 0;
  /** Tells this boot's delivery keys from the last boot's (a restarted device counts from 1 again). */
  private bootTag = '';
  /** Accepted (in the inbox, PUBACKed) but waiting for the board clock to be set: id → notification. */
  private readonly held = new Map<string, Notification>();
  private readonly clockTrusted: () => boolean;

  constructor(
    private readonly ctx: FirmwareContext,
    opts: PaymentsOptions = {},
  ) {
    this.clockTrusted = opts.clockTrusted ?? (() => clockTrusted(ctx.board.clock));
  }

  async start(): Promise<void> {
    this.bootTag = this.ctx.board.clock.now().toString(36);
    await this.resumeInFlight();
    // Final acks that died with the last process (or were waiting for a link when it stopped).
    for (const [id, ack] of this.ctx.payments.owedAcks()) this.sendFinalAck(id, ack);
    // Announce what was accepted before a crash or reboot but never announced; what was held for
    // the clock stays held until it is set (and is checked again then).
    for (const n of this.ctx.payments.pending()) {
      if (this.ctx.payments.isHeld(n.id)) this.held.set(n.id, n);
      else this.route(n);
    }
    if (this.held.size > 0) this.clockSynced();
  }

  /**
   * The board clock has been set (or confirmed) from the broker: the payments held for it are
   * checked for freshness again with the corrected clock, then announced or refused.
   */
  clockSynced(): void {
    if (this.held.size === 0 || !this.clockTrusted()) return;
    const held = [...this.held.values()];
    this.held.clear();
    const { ctx } = this;
    ctx.log.info({ payments: held.map((n) => n.id) }, `the clock is set: ${held.length} held payment(s) go on`);
    for (const n of held) {
      // Its signature was checked when it came in; only its age waited for the clock.
      const verdict = ctx.trust.fresh(n, ctx.board.clock.now());
      // Announced or refused from here on: no longer held, whatever happens next.
      const released = ctx.payments.release(n.id);
      if (verdict.ok) {
        this.route(n);
        released.catch(() => undefined);
        continue;
      }
      // Out of the inbox first, then the final "rejected" (after a crash in between, the backend's
      // retry is checked against the set clock and refused the same way).
      Promise.all([released, ctx.payments.drop([n])]).then(
        () => this.reject({ ...verdict, id: n.id }),
        (err: Error) =>
          ctx.log.warn({ payment: n.id, err: err.message }, 'could not drop a held payment that is no longer fresh'),
      );
    }
  }

  stop(): void {}

  topics(): Record<string, TopicHandler> {
    return { [topics.notify(this.ctx.id)]: (payload) => this.intake(payload) };
  }

  /** Runs before the PUBACK: whatever this resolves for is safe from a crash. */
  async intake(payload: Uint8Array): Promise<void> {
    const parsed = parseNotification(payload, this.ctx.id);
    if (!parsed.ok) return this.reject(parsed.rejection);
    const n = parsed.notification;
    // Before anything else: an unsigned, forged or stale notification must not even count as seen.
    const verdict = await this.ctx.trust.check(n, this.ctx.board.clock.now());
    // Signed, but the board clock cannot tell whether it is fresh (it reads 1970 until the broker
    // has told it the time): refusing would be final at the backend, so keep it and ask again later.
    const hold =
      !verdict.ok && (verdict.reason === 'from-the-future' || verdict.reason === 'expired') && !this.clockTrusted();
    if (!verdict.ok && !hold) return this.reject({ ...verdict, id: n.id });
    const { payments } = this.ctx;
    // Being announced right now: its final ack is moments away and answers for this copy too.
    // A "duplicate" sent now would overtake it and tell the backend the wrong story.
    if (payments.inFlight()?.ids.includes(n.id)) return;
    if (payments.isHandled(n.id)) {
      this.ctx.emit({ event: 'duplicate', device: this.ctx.id, id: n.id });
      return void this.sendAck({ id: n.id, status: 'duplicate' });
    }
    // Forgotten by dedupe but its final ack is still owed (a long outage): that ack is the answer.
    const owed = payments.owedAck(n.id);
    if (owed) return this.sendFinalAck(n.id, owed);
    // Still waiting to be announced (a retry, or a redelivery after a crash before the PUBACK):
    // the original's final ack answers for this id too. Asked before the age check: a speaker
    // far behind may hold a payment older than ids it has already forgotten, and refusing the
    // copy would tell the backend "rejected" about a payment it is about to announce.
    if (payments.isPending(n.id)) return;
    if (payments.isBeyondMemory(n.createdAt)) {
      const detail =
        'older than the oldest payment this device still remembers: it could be a replay of one announced long ago';
      return this.reject({ reason: 'expired', detail, id: n.id });
    }
    if (hold) return this.hold(n);
    await payments.accept(n);
    this.route(n);
  }

  /** Into the inbox (so it may be PUBACKed) and marked held, in one NVS write; announced once the clock is set. */
  private async hold(n: Notification): Promise<void> {
    const { payments, board, log } = this.ctx;
    await payments.accept(n, { held: true });
    this.held.set(n.id, n);
    log.info(
      { payment: n.id, createdAt: n.createdAt, clock: board.clock.now() },
      `holding payment ${n.id} until the clock is set from the broker: this speaker's clock reads ${new Date(board.clock.now()).toISOString()}`,
    );
    // The clock may have been set while it was being stored.
    this.clockSynced();
  }

  /**
   * A crash came between marking an announcement done and its sound being out. A payment is
   * acked as heard only if it was: the board finishes letting the sound out (a recorder can),
   * or finds it had come out; otherwise (a loudspeaker cut off, staged audio lost) the payments
   * go back to the inbox and are announced again.
   */
  private async resumeInFlight(): Promise<void> {
    const { payments, board, log } = this.ctx;
    const flight = payments.inFlight();
    if (!flight) return;
    let resumed: ResumedPlayback | null = null;
    let why = 'the audio output cannot finish an interrupted announcement';
    if (flight.token && board.audio.resume) {
      resumed = await board.audio.resume(flight.token).catch((err: Error) => {
        why = err.message;
        return null;
      });
    }
    if (!resumed && flight.items?.length) {
      log.warn(
        { payments: flight.ids, reason: why },
        'an announcement a restart interrupted did not come out: announcing it again',
      );
      return payments.reopen(flight.items);
    }
    if (!resumed) {
      // A record from firmware that did not keep the notifications: nothing to say again with.
      log.warn({ payments: flight.ids, reason: why }, 'an interrupted announcement cannot be said again: acking it');
    } else {
      log.info({ payments: flight.ids, already: resumed.already }, 'finished an announcement a restart interrupted');
      this.reportHeard(flight, resumed.playback);
    }
    await payments.settle(flight.key);
  }

  /** The `announced` or `summarized` event of an announcement finished after a restart. */
  private reportHeard(flight: InFlight, playback: PlayResult): void {
    const first = flight.items?.[0];
    if (flight.status === 'played' && first) {
      return this.reportPlayed(first, { text: flight.text }, playback);
    }
    if (flight.scope) this.reportSummary(flight.scope, flight.ids, flight.text, flight.key, playback);
  }

  private reportSummary(scope: Scope, ids: string[], text: string, key: string, playback: PlayResult): void {
    this.ctx.emit({
      event: 'summarized',
      device: this.ctx.id,
      scope,
      ids,
      count: ids.length,
      text,
      key,
      ...(playback.file ? { file: playback.file } : {}),
    });
  }

  private route(n: Notification): void {
    const { settings, announcer, board } = this.ctx;
    if (n.kind === 'payment' && board.clock.now() - n.createdAt > settings.staleAfterMs)
      return this.batch('offline', n);
    if (n.kind === 'payment' && announcer.pending >= settings.burstDepth) return this.batch('burst', n);
    this.deliver(
      n.id,
      async () => [n],
      ([p]) => utter({ type: 'payment', payment: p! }, this.ctx.lang),
      'played',
    );
  }

  /** Adds to the open batch of this scope, or opens one with a summary queued behind the current announcements. */
  private batch(scope: Scope, n: Notification): void {
    const now = this.ctx.board.clock.monotonic();
    const open = this.batches[scope];
    if (open) {
      open.items.push(n);
      open.lastAdded = now;
      return;
    }
    this.batches[scope] = { items: [n], openedAt: now, lastAdded: now };
    const summary = (items: Notification[]) =>
      utter({ type: 'summary', scope, count: items.length, totals: totals(items) }, this.ctx.lang);
    this.deliver(`summary-${scope}`, () => this.takeWhenSettled(scope), summary, 'summarized', scope);
  }

  /**
   * One announcement of one payment or of a summary: picks its items when its turn comes,
   * records them as done just before the sound comes out (with what is in flight, for a crash),
   * then reports and acks them — or rejects them all if the audio failed.
   */
  private deliver(
    label: string,
    pick: () => Promise<Notification[]>,
    speech: (items: Notification[]) => Utterance,
    status: 'played' | 'summarized',
    scope?: Scope,
  ): void {
    const { ctx } = this;
    let items: Notification[] = [];
    // Unique across restarts: a summary's sound is named after it (a payment's after its id).
    const key = `${label}@${this.bootTag}.${++this.deliveries}`;
    const utterance = async () => {
      items = await pick();
      return speech(items);
    };
    const beforePlay = (u: Utterance, token: string | undefined) =>
      ctx.payments.finish(
        items,
        { status, text: u.text },
        {
          key,
          token: token ?? null,
          ids: items.map((i) => i.id),
          status,
          text: u.text,
          items,
          ...(scope ? { scope } : {}),
        },
      );
    ctx.announcer.say(status === 'summarized' ? key : label, utterance, { beforePlay }).then(
      ({ utterance: u, playback }) => {
        ctx.payments
          .settle(key)
          .catch((err: Error) => ctx.log.warn({ err: err.message }, 'could not clear the in-flight record'));
        if (status === 'played') this.reportPlayed(items[0]!, u, playback);
        else
          this.reportSummary(
            scope!,
            items.map((i) => i.id),
            u.text,
            key,
            playback,
          );
        for (const i of items) this.sendFinalAck(i.id, { status, text: u.text });
        ctx.show();
      },
      (err: Error) => this.audioFailed(items, err),
    );
  }

  private reportPlayed(n: Notification, u: Pick<Utterance, 'text'>, playback: PlayResult): void {
    const { ctx } = this;
    ctx.emit({
      event: 'announced',
      device: ctx.id,
      id: n.id,
      text: u.text,
      status: 'played',
      amount: n.amount,
      currency: n.currency,
      channel: n.channel,
      kind: n.kind,
      latencyMs: ctx.board.clock.now() - n.createdAt,
      durationMs: Math.round(playback.durationMs),
      sink: playback.sink,
      ...(playback.file ? { file: playback.file } : {}),
    });
  }

  /** Offline notifications arrive in a rush after reconnecting: wait until the rush is over (or capped). */
  private async takeWhenSettled(scope: Scope): Promise<Notification[]> {
    const batch = this.batches[scope]!;
    if (scope === 'offline') {
      const { settleMs } = this.ctx.settings;
      for (;;) {
        const now = this.ctx.board.clock.monotonic();
        const wait = Math.min(batch.lastAdded + settleMs, batch.openedAt + MAX_SETTLE_MS) - now;
        if (wait <= 0) break;
        await sleep(this.ctx.board.clock, wait);
      }
    }
    delete this.batches[scope];
    return batch.items;
  }

  private audioFailed(ns: Notification[], err: Error): void {
    // Not announced, so not handled: a retry from the backend must be allowed to play.
    this.ctx.payments
      .drop(ns)
      .catch((e: Error) => this.ctx.log.error({ err: e.message }, 'could not record a failed announcement'));
    for (const n of ns) {
      this.reject({ reason: 'audio-failed', detail: `could not play the announcement: ${err.message}`, id: n.id });
    }
  }

  private reject(r: Rejection): void {
    this.ctx.log.warn({ payment: r.id, reason: r.reason }, `rejected a notification: ${r.detail}`);
    this.ctx.emit({ event: 'rejected', device: this.ctx.id, id: r.id, reason: r.reason, detail: r.detail });
    void this.sendAck({ id: r.id, status: 'rejected', reason: r.reason, detail: r.detail });
  }

  /** Resolves true once the broker has the ack; false (or a warning) if it was not sent. */
  private sendAck(fields: Omit<Ack, 'v' | 'device' | 'at'>): Promise<boolean> {
    const ack: Ack = { v: PROTOCOL_VERSION, device: this.ctx.id, ...fields, at: this.ctx.board.clock.now() };
    return this.ctx.connection.publish(topics.ack(this.ctx.id), encodeAck(ack), { qos: 1 }).catch((err: Error) => {
      this.ctx.log.warn({ payment: ack.id, err: err.message }, 'could not send ack');
      return false;
    });
  }

  /** A played or summarized ack is owed (in NVS) until the broker has it, so a crash cannot lose it. */
  private sendFinalAck(id: string, owed: OwedAck): void {
    void this.sendAck({ id, status: owed.status, text: owed.text }).then((sent) => {
      if (!sent) return; // still owed: sent again after the next boot
      this.ctx.payments
        .ackDelivered(id)
        .catch((err: Error) =>
          this.ctx.log.warn({ payment: id, err: err.message }, 'could not record an ack as delivered'),
        );
    });
  }
}

function totals(ns: Notification[]): Total[] {
  const by = new Map<string, number>();
  for (const n of ns) by.set(n.currency, (by.get(n.currency) ?? 0) + n.amount);
  return [...by].map(([currency, amount]) => ({ currency, amount }));
}

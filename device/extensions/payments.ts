/**
 * Payments: the speaker's reason to exist. Takes notifications from its own topic, stores each
 * durably before the broker's PUBACK, announces each id once, summarizes what arrived late
 * (queued while offline) or in a burst, and acks every one with its final status.
 */
import { encodeAck, parseNotification, topics, PROTOCOL_VERSION, type Ack, type Notification, type Rejection } from '../../src/protocol/index.ts';
import { utter, type Total } from '../../src/speech/index.ts';
import type { Extension, FirmwareContext } from '../context.ts';

type Scope = 'offline' | 'burst';

interface Batch {
  items: Notification[];
  lastAdded: number;
}

export class PaymentsExtension implements Extension {
  private readonly batches: Partial<Record<Scope, Batch>> = {};

  constructor(private readonly ctx: FirmwareContext) {}

  start(): void {
    // Announce what was accepted before a crash or reboot but never announced.
    for (const n of this.ctx.payments.pending()) this.route(n);
  }

  stop(): void {}

  /** Runs before the PUBACK: whatever this resolves for is safe from a crash. */
  async intake(payload: Buffer): Promise<void> {
    const parsed = parseNotification(payload, this.ctx.id);
    if (!parsed.ok) return this.reject(parsed.rejection);
    const n = parsed.notification;
    if (this.ctx.payments.isKnown(n.id)) {
      this.ctx.emit({ event: 'duplicate', device: this.ctx.id, id: n.id });
      return this.sendAck({ id: n.id, status: 'duplicate' });
    }
    await this.ctx.payments.accept(n);
    this.route(n);
  }

  private route(n: Notification): void {
    const { settings, announcer, board } = this.ctx;
    if (n.kind === 'payment' && board.clock.now() - n.createdAt > settings.staleAfterMs) return this.batch('offline', n);
    if (n.kind === 'payment' && announcer.pending >= settings.burstDepth) return this.batch('burst', n);
    this.announce(n);
  }

  private announce(n: Notification): void {
    const { ctx } = this;
    ctx.announcer.say(n.id, () => utter({ type: 'payment', payment: n }, ctx.lang)).then(
      async ({ utterance, playback }) => {
        await ctx.payments.finish([n]);
        ctx.emit({
          event: 'announced',
          device: ctx.id,
          id: n.id,
          text: utterance.text,
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
        this.sendAck({ id: n.id, status: 'played', text: utterance.text });
        ctx.refresh();
      },
      (err: Error) => this.audioFailed([n], err),
    );
  }

  /** Adds to the open batch of this scope, or opens one with a summary queued behind the current announcements. */
  private batch(scope: Scope, n: Notification): void {
    const now = this.ctx.board.clock.now();
    const open = this.batches[scope];
    if (open) {
      open.items.push(n);
      open.lastAdded = now;
      return;
    }
    this.batches[scope] = { items: [n], lastAdded: now };
    let taken: Notification[] = [];
    this.ctx.announcer
      .say(`summary-${scope}`, async () => {
        taken = await this.takeWhenSettled(scope);
        return utter({ type: 'summary', scope, count: taken.length, totals: totals(taken) }, this.ctx.lang);
      })
      .then(
        async ({ utterance }) => {
          await this.ctx.payments.finish(taken);
          const ids = taken.map((t) => t.id);
          this.ctx.emit({ event: 'summarized', device: this.ctx.id, scope, ids, count: ids.length, text: utterance.text });
          for (const id of ids) this.sendAck({ id, status: 'summarized', text: utterance.text });
          this.ctx.refresh();
        },
        (err: Error) => this.audioFailed(taken.length ? taken : (this.batches[scope]?.items ?? []), err),
      );
  }

  /** Offline notifications arrive in a rush after reconnecting: wait until the rush is over. */
  private async takeWhenSettled(scope: Scope): Promise<Notification[]> {
    const { settleMs } = this.ctx.settings;
    for (;;) {
      const wait = this.batches[scope]!.lastAdded + settleMs - this.ctx.board.clock.now();
      if (scope === 'burst' || wait <= 0) break;
      await new Promise((r) => setTimeout(r, wait));
    }
    const items = this.batches[scope]!.items;
    delete this.batches[scope];
    return items;
  }

  private audioFailed(ns: Notification[], err: Error): void {
    for (const n of ns) {
      // Not announced, so not handled: a retry from the backend must be allowed to play.
      void this.ctx.payments.drop(n.id);
      this.reject({ reason: 'audio-failed', detail: `could not play the announcement: ${err.message}`, id: n.id });
    }
  }

  private reject(r: Rejection): void {
    this.ctx.log.warn({ payment: r.id, reason: r.reason }, `rejected a notification: ${r.detail}`);
    this.ctx.emit({ event: 'rejected', device: this.ctx.id, id: r.id, reason: r.reason, detail: r.detail });
    this.sendAck({ id: r.id, status: 'rejected', reason: r.reason, detail: r.detail });
  }

  private sendAck(fields: Omit<Ack, 'v' | 'device' | 'at'>): void {
    const ack: Ack = { v: PROTOCOL_VERSION, device: this.ctx.id, ...fields, at: this.ctx.board.clock.now() };
    this.ctx.connection.publish(topics.ack(this.ctx.id), encodeAck(ack), { qos: 1 }).catch((err: Error) => {
      this.ctx.log.warn({ payment: ack.id, err: err.message }, 'could not send ack');
    });
  }
}

function totals(ns: Notification[]): Total[] {
  const by = new Map<string, number>();
  for (const n of ns) by.set(n.currency, (by.get(n.currency) ?? 0) + n.amount);
  return [...by].map(([currency, amount]) => ({ currency, amount }));
}

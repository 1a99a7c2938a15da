/**
 * Payments: the speaker's reason to exist. Takes notifications from its own topic, stores each
 * durably before the broker's PUBACK, announces each id once, summarizes what arrived late
 * (queued while offline) or in a burst, and acks every one with its final status.
 */
import { encodeAck, parseNotification, topics, PROTOCOL_VERSION, type Ack, type Notification, type Rejection } from '../../src/protocol/index.ts';
import { utter, type Total, type Utterance } from '../../src/speech/index.ts';
import type { Extension, FirmwareContext } from '../context.ts';

type Scope = 'offline' | 'burst';

interface Batch {
  items: Notification[];
  lastAdded: number;
}

export class PaymentsExtension implements Extension {
  private readonly batches: Partial<Record<Scope, Batch>> = {};

  constructor(private readonly ctx: FirmwareContext) {}

  async start(): Promise<void> {
    await this.resumeInFlight();
    // Announce what was accepted before a crash or reboot but never announced.
    for (const n of this.ctx.payments.pending()) this.route(n);
  }

  /** The device died between "done" and the sound coming out: let the board finish, then ack. */
  private async resumeInFlight(): Promise<void> {
    const { payments, board, log } = this.ctx;
    const flight = payments.inFlight();
    if (!flight) return;
    const result = board.audio.resume ? await board.audio.resume(flight.token).catch((err: Error) => log.warn({ err: err.message }, 'could not resume')) : null;
    log.info({ payments: flight.ids, resumed: Boolean(result) }, 'finished an announcement a restart interrupted');
    // Acks again in any case (the first may have died with the process); reports only what it let out now.
    if (result && flight.scope) {
      this.ctx.emit({ event: 'summarized', device: this.ctx.id, scope: flight.scope, ids: flight.ids, count: flight.ids.length, text: flight.text });
    }
    for (const id of flight.ids) this.sendAck({ id, status: flight.status, text: flight.text });
    await payments.settle(flight.token);
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
    let token: string | undefined;
    const done = (u: Utterance, staged?: string) => {
      token = staged;
      return ctx.payments.finish([n], staged ? { token: staged, ids: [n.id], status: 'played', text: u.text } : undefined);
    };
    ctx.announcer.say(n.id, () => utter({ type: 'payment', payment: n }, ctx.lang), { beforePlay: done }).then(
      ({ utterance, playback }) => {
        void ctx.payments.settle(token);
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
    let token: string | undefined;
    const summary = async () => {
      taken = await this.takeWhenSettled(scope);
      return utter({ type: 'summary', scope, count: taken.length, totals: totals(taken) }, this.ctx.lang);
    };
    this.ctx.announcer
      .say(`summary-${scope}`, summary, {
        beforePlay: (u, staged) => {
          token = staged;
          const flight = staged ? { token: staged, ids: taken.map((t) => t.id), status: 'summarized' as const, scope, text: u.text } : undefined;
          return this.ctx.payments.finish(taken, flight);
        },
      })
      .then(
        ({ utterance }) => {
          void this.ctx.payments.settle(token);
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
    // Not announced, so not handled: a retry from the backend must be allowed to play.
    void this.ctx.payments.drop(ns);
    for (const n of ns) {
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

/**
 * Moves payments from the outbox to devices and the devices' answers back: publishes each new
 * payment at once (QoS 1, the signed bytes stored at acceptance), re-publishes what is due on
 * a short poll, and turns PUBACKs and acks into status changes. It lives inside the broker and
 * talks to aedes directly: no extra connection, and it sees every device's PUBACK.
 */
import type { Aedes, AedesPublishPacket, Client, PublishPacket, PubrelPacket, Subscription } from 'aedes';
import { parseAck, parseDeviceTopic, topics } from '../../src/protocol/index.ts';
import { deviceClientId } from '../auth.ts';
import type { Logger } from '../../src/log.ts';
import type { Outbox, Publication } from './outbox.ts';

export interface DispatcherOptions {
  /** How often to look for due retries and expired payments. */
  pollMs?: number;
  /** Most payments re-published per poll (the rest wait for the next one). */
  batch?: number;
}

export class Dispatcher {
  private timer: NodeJS.Timeout | null = null;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly onPuback = (packet: PublishPacket | PubrelPacket | undefined, client: Client) => this.delivered(packet, client);
  private readonly onSubscribe = (subs: Subscription[], client: Client) => this.subscribed(subs, client);

  constructor(
    private readonly outbox: Outbox,
    private readonly aedes: Aedes,
    private readonly log: Logger,
    opts: DispatcherOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 250;
    this.batch = opts.batch ?? 2000;
  }

  async start(): Promise<void> {
    this.outbox.onAccepted = (p) => this.publish(p);
    this.outbox.onError = (err) => this.log.error({ err: err.message }, 'could not record a payment status change');
    this.aedes.on('ack', this.onPuback);
    this.aedes.on('subscribe', this.onSubscribe);
    await new Promise<void>((resolve) =>
      this.aedes.subscribe(
        topics.allAcks,
        (packet, done) => {
          this.acked(packet);
          done();
        },
        resolve,
      ),
    );
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.outbox.onAccepted = () => {};
    this.aedes.off('ack', this.onPuback);
    this.aedes.off('subscribe', this.onSubscribe);
  }

  private poll(): void {
    let work;
    try {
      work = this.outbox.tick(this.batch);
    } catch (err) {
      // Busy (a CLI command holds the lock) or a disk error: the next poll tries again.
      this.log.warn({ err: (err as Error).message }, 'could not scan the outbox for due payments');
      return;
    }
    for (const id of work.expired) this.log.warn({ payment: id }, 'payment expired: no final ack from the device within its time-to-live');
    for (const p of work.due) this.publish(p);
  }

  private publish(p: Publication): void {
    const packet = { cmd: 'publish', topic: topics.notify(p.device), payload: Buffer.from(p.payload), qos: 1, retain: false, dup: false } as const;
    this.aedes.publish(packet as AedesPublishPacket, (err) => {
      if (err) this.log.warn({ payment: p.id, err: err.message }, 'could not publish a payment; it will be retried');
    });
    if (p.attempt > 1) this.log.debug({ payment: p.id, device: p.device, attempt: p.attempt }, 're-published a payment');
  }

  /** A PUBACK for a notification: only the addressed device's own PUBACK counts as delivery. */
  private delivered(packet: PublishPacket | PubrelPacket | undefined, client: Client): void {
    if (packet?.cmd !== 'publish' || !packet.payload) return;
    const where = parseDeviceTopic(packet.topic);
    if (!where || where.leaf !== 'notify' || client?.id !== deviceClientId(where.deviceId)) return;
    const id = paymentIdOf(packet.payload as Buffer);
    if (id) this.outbox.recordDelivered(where.deviceId, id);
  }

  private acked(packet: AedesPublishPacket): void {
    const where = parseDeviceTopic(packet.topic);
    if (!where) return;
    try {
      const ack = parseAck(packet.payload as Buffer);
      // Only the device itself may speak for its payments (the ACL enforces the topic in secure mode).
      if (ack.device === where.deviceId) this.outbox.recordAck(where.deviceId, ack);
    } catch {
      // The tracker logs malformed acks.
    }
  }

  private subscribed(subs: Subscription[], client: Client): void {
    for (const s of subs) {
      const where = parseDeviceTopic(s.topic);
      if (where?.leaf === 'notify' && client?.id === deviceClientId(where.deviceId)) this.outbox.makeDueNow(where.deviceId);
    }
  }
}

function paymentIdOf(payload: Buffer): string | null {
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

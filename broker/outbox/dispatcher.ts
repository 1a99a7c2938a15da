/**
 * Moves payments from the outbox to devices and the devices' answers back: publishes each new
 * payment at once (QoS 1, the signed bytes stored at acceptance), re-publishes what is due on
 * a short poll, and turns PUBACKs and acks into status changes. It lives inside the broker and
 * talks to aedes directly: no extra connection, and it sees every device's PUBACK.
 */
import type { Aedes, AedesPublishPacket, Client, PublishPacket, PubrelPacket, Subscription } from 'aedes';
import { parseAck, parseDeviceTopic, topics, type Ack } from '../../src/protocol/index.ts';
import type { AckIntake } from '../ack-intake.ts';
import { deviceClientId, deviceOfClientId } from '../auth.ts';
import { subscribeInternal } from '../internal-subscribe.ts';
import { clip, ThrottledLog } from '../log-throttle.ts';
import type { Logger } from '../../src/log.ts';
import { InFlight, type TakeVerdict } from './in-flight.ts';
import type { Outbox, Publication, SendDecision } from './outbox.ts';

export interface DispatcherOptions {
  /** How often to look for due retries and expired payments. */
  pollMs?: number;
  /** Most payments re-published per poll (the rest wait for the next one). */
  batch?: number;
  /** Most copies published to one device and not yet PUBACKed by it (MQTT's receive maximum, in spirit). */
  maxInFlightPerDevice?: number;
  /** A copy not PUBACKed after this long is taken as lost: the payment may be published again. */
  inFlightTimeoutMs?: number;
  /**
   * Brokers sharing devices through Redis: a device not connected here may be connected to
   * another broker, so retries go out regardless. Alone, retries wait for the device to be
   * connected here (it gets everything pending when it subscribes).
   */
  clustered?: boolean;
}

/** Copies handed to aedes and not yet written (see send), in all and per device. */
const MAX_SENDING = 50;
const MAX_SENDING_PER_DEVICE = 5;
/**
 * The most characters of an ack's text, reason or detail kept with a payment (and shown by the
 * API): a spoken sentence is far shorter, and a device must not store 16 KB per payment.
 */
export const MAX_ACK_TEXT = 1000;

export class Dispatcher implements AckIntake {
  private timer: NodeJS.Timeout | null = null;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly inFlight: InFlight;
  private readonly clustered: boolean;
  /** Devices with due payments held back at the last poll: new payments queue behind them. */
  private readonly backlogged = new Set<string>();
  private readonly outgoing: Publication[] = [];
  private sending = 0;
  private readonly sendingTo = new Map<string, number>();
  /**
   * Payloads of acks already recorded by takeAck() before their PUBACK: when the same message then
   * reaches the subscription (acked), it is not recorded a second time.
   */
  private readonly taken = new WeakSet<object>();
  private stopped = false;
  /** Lines a device or a failing disk can repeat thousands of times a second: one a second per kind. */
  private readonly lines: ThrottledLog;
  private readonly onPuback = (packet: PublishPacket | PubrelPacket | undefined, client: Client) =>
    this.delivered(packet, client);
  private readonly onSubscribe = (subs: Subscription[], client: Client) => this.subscribed(subs, client);
  private readonly onDisconnect = (client: Client) => {
    const device = client?.id && deviceOfClientId(client.id);
    if (!device) return;
    // A session taken over by the same device's new connection: the new one is what counts.
    const current = this.clients()[client.id];
    if (current && current !== client) return;
    this.inFlight.forget(device);
  };

  constructor(
    private readonly outbox: Outbox,
    private readonly aedes: Aedes,
    private readonly log: Logger,
    opts: DispatcherOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 250;
    this.batch = opts.batch ?? 2000;
    this.inFlight = new InFlight(opts.maxInFlightPerDevice ?? 100, opts.inFlightTimeoutMs ?? 30_000);
    this.clustered = opts.clustered ?? false;
    this.lines = new ThrottledLog(log);
  }

  async start(): Promise<void> {
    this.outbox.onAccepted = (p) => this.publish(p);
    this.outbox.onError = (err) =>
      this.lines.error(
        'record-failed',
        'failed payment status changes',
        { err: clip(err.message) },
        'could not record a payment status change',
      );
    this.aedes.on('ack', this.onPuback);
    this.aedes.on('subscribe', this.onSubscribe);
    this.aedes.on('clientDisconnect', this.onDisconnect);
    await subscribeInternal(this.aedes, topics.allAcks, (packet) => this.acked(packet));
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.outbox.onAccepted = () => {};
    this.outgoing.length = 0;
    this.aedes.off('ack', this.onPuback);
    this.aedes.off('subscribe', this.onSubscribe);
    this.aedes.off('clientDisconnect', this.onDisconnect);
  }

  private poll(): void {
    let work;
    const taken: string[] = [];
    try {
      const now = Date.now();
      // Devices with no room are left out of the scan: their held payments must not fill every
      // batch and starve other devices' retries. New payments for them queue behind (publish).
      const full = this.inFlight.fullDevices(now);
      this.backlogged.clear();
      for (const device of full) this.backlogged.add(device);
      work = this.outbox.tick(this.batch, (id, device, attempt) => this.decide(id, device, attempt, now, taken), full);
    } catch (err) {
      // Nothing was sent: the copies recorded for this scan are not out.
      for (const id of taken) this.inFlight.release(id);
      // Busy (a CLI command holds the lock) or a disk error: the next poll tries again.
      this.lines.warn(
        'scan-failed',
        'failed scans of the outbox',
        { err: clip((err as Error).message) },
        'could not scan the outbox for due payments',
      );
      return;
    }
    for (const id of work.expired)
      this.log.warn({ payment: id }, 'payment expired: no final ack from the device within its time-to-live');
    for (const p of work.due) this.send(p);
  }

  /** A newly accepted payment: out at once, unless its device already has its fill of copies in flight. */
  private publish(p: Publication): void {
    // Behind a backlog it waits its turn (its first retry puts it in line).
    const verdict = this.backlogged.has(p.device) ? 'device-full' : this.take(p.id, p.device, p.attempt, Date.now());
    // Not lost when skipped: the payment's first retry is already scheduled.
    if (verdict === 'ok') this.send(p);
    else
      this.log.debug(
        { payment: p.id, device: p.device, verdict },
        'device has too many payments in flight; sending at the first retry',
      );
  }

  /**
   * Subscribed, not merely connected: a copy published between a device's CONNECT and its
   * SUBSCRIBE reaches nobody, and counted as in flight it would block that payment for the
   * in-flight timeout (seen as payments stuck "queued" after a broker restart).
   */
  private connectedHere(device: string): boolean {
    // Asked of aedes each time rather than tracked from events: a SUBSCRIBE made before this
    // dispatcher started listening (devices reconnecting to a restarted broker) still counts.
    return Boolean(this.clients()[deviceClientId(device)]?.subscriptions[topics.notify(device)]);
  }

  private clients(): Record<string, (Client & { subscriptions: Record<string, unknown> }) | undefined> {
    return (
      this.aedes as unknown as {
        clients: Record<string, (Client & { subscriptions: Record<string, unknown> }) | undefined>;
      }
    ).clients;
  }

  /**
   * Re-sending to a device that is not connected only piles copies into its offline session
   * (aedes hands all of them over on reconnect: a storm); the first copy is already there, and
   * the device's next SUBSCRIBE makes everything pending due at once.
   */
  private mayRetry(device: string): boolean {
    return this.clustered || this.connectedHere(device);
  }

  /**
   * A device with its fill of copies in flight gets its other due payments later in their
   * order (held, not pushed back): new payments must not overtake them, or a long backlog
   * would reach the speaker out of order — and one that arrives behind more than the
   * speaker's dedupe memory (1,000 payments) is refused as a possible replay. A device not
   * connected here waits the longest step: its SUBSCRIBE makes everything due at once.
   */
  private decide(id: string, device: string, attempt: number, now: number, taken: string[]): SendDecision {
    if (!this.mayRetry(device)) return 'away';
    const verdict = this.take(id, device, attempt, now);
    if (verdict === 'ok') taken.push(id);
    if (verdict === 'device-full') this.backlogged.add(device);
    return verdict === 'ok' ? 'send' : verdict === 'device-full' ? 'hold' : 'later';
  }

  /** `attempt`: the copy's number (the outbox's `attempts` once it is sent), so its PUBACK names it. */
  private take(id: string, device: string, attempt: number, now: number): TakeVerdict {
    return this.inFlight.take(id, device, now, this.connectedHere(device), attempt);
  }

  /**
   * Hands copies to aedes a few at a time. A burst of thousands of synchronous
   * aedes.publish calls overflows mqemitter's queue, whose release path then recurses once
   * per queued message and dies with "Maximum call stack size exceeded" (mqemitter PR #204,
   * seen here in a 100,000-payment chaos run). Each copy's callback (aedes has written it)
   * lets the next one go, on a fresh stack.
   */
  private send(p: Publication): void {
    this.outgoing.push(p);
    this.pump();
  }

  private pump(): void {
    // Oldest first, skipping a device that already has its share of the window: a speaker whose
    // socket will not drain (aedes waits up to its drainTimeout) must not stall everyone else.
    for (let i = 0; this.sending < MAX_SENDING && i < this.outgoing.length;) {
      const p = this.outgoing[i]!;
      if ((this.sendingTo.get(p.device) ?? 0) >= MAX_SENDING_PER_DEVICE) {
        i++;
        continue;
      }
      this.outgoing.splice(i, 1);
      this.sending++;
      this.sendingTo.set(p.device, (this.sendingTo.get(p.device) ?? 0) + 1);
      const packet = {
        cmd: 'publish',
        topic: topics.notify(p.device),
        payload: Buffer.from(p.payload),
        qos: 1,
        retain: false,
        dup: false,
      } as const;
      this.aedes.publish(packet as AedesPublishPacket, (err) => {
        this.sending--;
        const n = this.sendingTo.get(p.device)! - 1;
        if (n > 0) this.sendingTo.set(p.device, n);
        else this.sendingTo.delete(p.device);
        if (err) {
          this.inFlight.release(p.id);
          this.lines.warn(
            'publish-failed',
            'payments that could not be published',
            { payment: p.id, err: clip(err.message) },
            'could not publish a payment; it will be retried',
          );
        }
        setImmediate(() => this.pump());
      });
      if (p.attempt > 1)
        this.log.debug({ payment: p.id, device: p.device, attempt: p.attempt }, 're-published a payment');
    }
  }

  /**
   * A PUBACK for a notification: only the addressed device's own PUBACK counts as delivery, and
   * only for the copy it acknowledges. Every copy carries the same bytes, so which one it was is
   * what this broker noted when it sent it (unknown for a copy it did not track: the outbox
   * then takes the latest).
   */
  private delivered(packet: PublishPacket | PubrelPacket | undefined, client: Client): void {
    if (packet?.cmd !== 'publish' || !packet.payload) return;
    const where = parseDeviceTopic(packet.topic);
    if (!where || where.leaf !== 'notify' || client?.id !== deviceClientId(where.deviceId)) return;
    const id = paymentIdOf(packet.payload as Buffer);
    if (!id) return;
    this.outbox.recordDelivered(where.deviceId, id, this.inFlight.release(id));
  }

  /**
   * The ack intake (broker/ack-intake.ts): called from authorizePublish, before aedes PUBACKs a
   * device's publish on `device`'s ack topic. Resolves once a well-formed ack from that device is
   * committed; anything else resolves at once and is left to the subscription, as before (the
   * tracker logs a malformed ack; the device gets its PUBACK and does not resend it).
   */
  takeAck(device: string, packet: PublishPacket): Promise<void> {
    const ack = this.ownAck(device, packet.payload);
    if (!ack) return Promise.resolve();
    // Closing: no PUBACK for what cannot be recorded; the device resends it to the next broker.
    if (this.stopped) return Promise.reject(new Error('the notification service is stopping'));
    return this.outbox.commitAck(device, storable(ack)).then(
      () => {
        if (typeof packet.payload === 'object') this.taken.add(packet.payload);
      },
      (err: Error) => {
        this.lines.error(
          'ack-failed',
          'acks that could not be recorded',
          { device, payment: clip(ack.id), err: clip(err.message) },
          "could not record a device's ack; closing its connection so it sends the ack again",
        );
        throw err;
      },
    );
  }

  /**
   * Every ack the broker carries. One from a device's own connection here was recorded by
   * takeAck() before its PUBACK; this records the rest (published without that hook, or by a
   * device on another broker of a cluster).
   */
  private acked(packet: AedesPublishPacket): void {
    if (typeof packet.payload === 'object' && this.taken.has(packet.payload)) return;
    const where = parseDeviceTopic(packet.topic);
    if (!where) return;
    const ack = this.ownAck(where.deviceId, packet.payload);
    if (ack) this.outbox.recordAck(where.deviceId, storable(ack));
  }

  /** The ack in `payload` if it parses and is `device`'s own, else null. */
  private ownAck(device: string, payload: Buffer | string): Ack | null {
    let ack: Ack;
    try {
      ack = parseAck(payload);
    } catch {
      return null; // The tracker logs malformed acks (throttled).
    }
    // Only the device itself may speak for its payments (the ACL enforces the topic in secure mode).
    return ack.device === device ? ack : null;
  }

  private subscribed(subs: Subscription[], client: Client): void {
    for (const s of subs) {
      const where = parseDeviceTopic(s.topic);
      if (where?.leaf === 'notify' && client?.id === deviceClientId(where.deviceId))
        this.outbox.makeDueNow(where.deviceId);
    }
  }
}

/**
 * An ack as the outbox may store it. parseAck checks the fields every ack has; `text`, `reason`
 * and `detail` are the device's own words, of any JSON type and any length. A non-string would
 * make SQLite refuse the whole write (and log an error per ack), so such a field is left out, and
 * a long one is cut to MAX_ACK_TEXT characters.
 */
export function storable(ack: Ack): Ack {
  const keep = (v: unknown) => (typeof v === 'string' ? clip(v, MAX_ACK_TEXT) : undefined);
  const out: Ack = { v: ack.v, id: ack.id, device: ack.device, status: ack.status, at: ack.at };
  const [text, reason, detail] = [keep(ack.text), keep(ack.reason), keep(ack.detail)];
  if (text !== undefined) out.text = text;
  if (reason !== undefined) out.reason = reason as Ack['reason'];
  if (detail !== undefined) out.detail = detail;
  return out;
}

function paymentIdOf(payload: Buffer): string | null {
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

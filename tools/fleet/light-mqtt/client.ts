/**
 * A light MQTT 3.1.1 client for fleets: the part of MQTT.js's MqttClient that the firmware's
 * connection (device/connection.ts) uses, over one TCP or TLS socket, and nothing else. Why: a
 * fleet worker holds thousands of speakers, and per speaker MQTT.js keeps an options object in
 * dictionary mode, two stores, a keep-alive manager, a packet-parsing stream and a write stream
 * in front of the socket (about 13 KB of heap, and a few stream hops per packet). The firmware
 * above it is unchanged: the same CONNECT with its will, persistent session, QoS 1 both ways,
 * PUBACK only once the firmware has stored the message, its own reconnect backoff.
 *
 * What it keeps of MQTT.js's behaviour, because the firmware relies on it:
 *  - incoming packets are handled one at a time, in order: a QoS 1 PUBLISH goes to
 *    `handleMessage` and the next packet waits for its `done` (PUBACK on success, none on error);
 *  - `publishAsync` QoS 1 resolves on the PUBACK; when the link drops first it rejects, and the
 *    firmware publishes again once back online (it does so for MQTT.js too: issue #2015);
 *  - keep-alive: a PINGREQ when nothing was sent for a whole keep-alive, and an error
 *    "Keepalive timeout" then a closed link when no PINGRESP comes within half of one;
 *  - 'connect' (with the CONNACK), 'close' and 'error' events; `reconnect()` opens a new socket
 *    with the same options; `endAsync(false)` waits for our in-flight publishes, then DISCONNECT.
 * Not supported, and refused when asked: MQTT 5, QoS 2, WebSockets (use MQTT.js there).
 */
import net from 'node:net';
import tls from 'node:tls';
import { EventEmitter } from 'eventemitter3';
import type { IClientOptions } from 'mqtt';
import {
  DISCONNECT,
  encodeConnect,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  PacketReader,
  PINGREQ,
  type Incoming,
} from './codec.ts';

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3), worded as MQTT.js words them. */
const REFUSED: Record<number, string> = {
  1: 'Unacceptable protocol version',
  2: 'Identifier rejected',
  3: 'Server unavailable',
  4: 'Bad username or password',
  5: 'Not authorized',
};

export interface LightMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  dup: boolean;
  messageId: number;
}

type Waiter = { resolve: () => void; reject: (err: Error) => void };

export class LightMqttClient extends EventEmitter<{
  connect: [{ sessionPresent: boolean; returnCode: number }];
  close: [];
  error: [Error];
}> {
  connected = false;
  /** The current socket (a new one after each reconnect). */
  stream!: net.Socket;
  /** Replaced by the firmware: takes every incoming PUBLISH; `done()` sends the PUBACK of a QoS 1 one. */
  handleMessage: (packet: LightMessage, done: (err?: Error) => void) => void = (_p, done) => done();
  /** MQTT.js's reconnect({ incomingStore, outgoingStore }) keeps its stores; here nothing is kept between sockets. */
  readonly incomingStore = undefined;
  readonly outgoingStore = undefined;

  private reader = new PacketReader();
  private readonly queue: Incoming[] = [];
  private working = false;
  private nextId = 0;
  private readonly publishes = new Map<number, Waiter>();
  private readonly subscribes = new Map<number, Waiter & { count: number }>();
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private pingSentAt = 0;
  /** Counts sockets: a `done` from a message of an earlier socket must not touch this one's queue. */
  private generation = 0;
  private corked = false;
  /** Called when the last in-flight QoS 1 publish is settled (a polite end waits for it). */
  private onDrained: (() => void)[] = [];
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;

  constructor(
    brokerUrl: string,
    private readonly opts: IClientOptions & { localAddress?: string },
  ) {
    super();
    const url = new URL(brokerUrl);
    const protocol = url.protocol.replace(/:$/, '');
    if (!['mqtt', 'tcp', 'mqtts', 'ssl', 'tls'].includes(protocol))
      throw new Error(`the light MQTT client speaks mqtt:// and mqtts:// only, not ${protocol}://`);
    if (opts.protocolVersion && opts.protocolVersion !== 4)
      throw new Error(`the light MQTT client speaks MQTT 3.1.1 only, not protocol version ${opts.protocolVersion}`);
    this.secure = protocol !== 'mqtt' && protocol !== 'tcp';
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || (this.secure ? 8883 : 1883));
    this.open();
  }

  /** A new socket with the same options (after a 'close'; the firmware decides when). */
  reconnect(_stores?: unknown): this {
    if (this.stream && !this.stream.destroyed) this.stream.destroy();
    this.open();
    return this;
  }

  publishAsync(
    topic: string,
    payload: string | Buffer,
    options: { qos?: number; retain?: boolean } = {},
  ): Promise<void> {
    const qos = options.qos ?? 0;
    if (qos > 1) return Promise.reject(new Error('the light MQTT client does not do QoS 2'));
    if (!this.connected) return Promise.reject(new Error('client disconnected'));
    if (qos === 0) {
      this.write(encodePublish(topic, payload, 0, options.retain ?? false, 0));
      return Promise.resolve();
    }
    const id = this.allocate();
    return new Promise<void>((resolve, reject) => {
      this.publishes.set(id, { resolve, reject });
      this.write(encodePublish(topic, payload, 1, options.retain ?? false, id));
    });
  }

  subscribeAsync(topics: string | string[], options: { qos?: number } = {}): Promise<void> {
    const list = typeof topics === 'string' ? [topics] : topics;
    if (!this.connected) return Promise.reject(new Error('client disconnected'));
    const id = this.allocate();
    return new Promise<void>((resolve, reject) => {
      this.subscribes.set(id, { resolve, reject, count: list.length });
      this.write(encodeSubscribe(id, list, Math.min(1, options.qos ?? 0)));
    });
  }

  /** `force`: drop the socket now. Otherwise wait for in-flight QoS 1 publishes, then DISCONNECT. */
  async endAsync(force = false): Promise<void> {
    const stream = this.stream;
    if (!stream || stream.destroyed) return this.cleanUp(new Error('client ended'));
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    if (!force && this.connected) {
      // The firmware bounds this wait itself (GOODBYE_MS); a link that drops settles them too.
      if (this.publishes.size > 0) await new Promise<void>((resolve) => this.onDrained.push(resolve));
      if (!stream.destroyed) stream.end(DISCONNECT);
    } else stream.destroy();
    await closed;
  }

  private open(): void {
    const { opts } = this;
    const common = {
      host: this.host,
      port: this.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    };
    const stream = this.secure
      ? tls.connect({
          ...common,
          ca: opts.ca as tls.ConnectionOptions['ca'],
          rejectUnauthorized: opts.rejectUnauthorized !== false,
          ...(opts.servername ? { servername: opts.servername } : {}),
        })
      : net.createConnection(common);
    this.stream = stream;
    this.generation += 1;
    this.reader = new PacketReader();
    stream.setNoDelay(true);
    stream.once(this.secure ? 'secureConnect' : 'connect', () => {
      this.write(
        encodeConnect({
          clientId: opts.clientId ?? '',
          clean: opts.clean !== false,
          keepaliveS: opts.keepalive ?? 60,
          ...(opts.username !== undefined ? { username: opts.username } : {}),
          ...(opts.password !== undefined ? { password: opts.password } : {}),
          ...(opts.will
            ? {
                will: {
                  topic: opts.will.topic,
                  payload: opts.will.payload as string | Buffer,
                  qos: opts.will.qos ?? 0,
                  retain: opts.will.retain ?? false,
                },
              }
            : {}),
        }),
      );
    });
    this.connectTimer = setTimeout(() => {
      this.emit('error', new Error('connack timeout'));
      stream.destroy();
    }, opts.connectTimeout ?? 30_000);
    stream.on('data', (chunk: Buffer) => {
      try {
        this.reader.read(chunk, (p) => this.queue.push(p));
      } catch (err) {
        this.emit('error', err as Error);
        stream.destroy();
        return;
      }
      this.work();
    });
    stream.on('error', (err) => this.emit('error', err));
    stream.once('close', () => {
      if (this.stream !== stream) return; // an older socket, already replaced
      this.cleanUp(new Error('connection closed'));
      this.emit('close');
    });
  }

  /** Handles queued packets in order; a QoS 1 PUBLISH holds the queue until the firmware is done with it. */
  private work(): void {
    while (!this.working && this.queue.length > 0) {
      const p = this.queue.shift()!;
      if (p.type !== 'publish') {
        this.handle(p);
        continue;
      }
      this.working = true;
      const generation = this.generation;
      this.handleMessage(p, (err) => {
        // Its socket is gone: no PUBACK (the broker sends it again), and the queue is a new one.
        if (generation !== this.generation || !this.connected) return;
        if (!err && p.qos === 1) this.write(encodePuback(p.messageId));
        this.working = false;
        this.work();
      });
    }
  }

  private handle(p: Exclude<Incoming, { type: 'publish' }>): void {
    switch (p.type) {
      case 'connack':
        if (this.connectTimer) clearTimeout(this.connectTimer);
        if (p.returnCode !== 0) {
          this.emit(
            'error',
            new Error(`Connection refused: ${REFUSED[p.returnCode] ?? `return code ${p.returnCode}`}`),
          );
          this.stream?.destroy();
          return;
        }
        this.connected = true;
        if ((this.opts.keepalive ?? 60) > 0) this.armKeepalive((this.opts.keepalive ?? 60) * 1000);
        this.emit('connect', p);
        return;
      case 'puback':
        return this.settle(this.publishes, p.messageId);
      case 'suback': {
        const refused = p.granted.some((g) => (g & 0x80) !== 0);
        return this.settle(
          this.subscribes,
          p.messageId,
          refused ? new Error('Subscribe error: Unspecified error') : undefined,
        );
      }
      case 'pingresp':
        this.pingSentAt = 0;
        this.armKeepalive((this.opts.keepalive ?? 60) * 1000);
        return;
      case 'unexpected':
        this.emit('error', new Error(`unexpected MQTT packet type ${p.code} from the broker`));
        this.stream?.destroy();
    }
  }

  private settle(waiting: Map<number, Waiter>, id: number, err?: Error): void {
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    if (err) w.reject(err);
    else w.resolve();
    if (this.publishes.size === 0) for (const wake of this.onDrained.splice(0)) wake();
  }

  /** The next packet id (1-65535) that no publish or subscribe in flight holds. */
  private allocate(): number {
    do this.nextId = (this.nextId % 65535) + 1;
    while (this.publishes.has(this.nextId) || this.subscribes.has(this.nextId));
    return this.nextId;
  }

  /**
   * Packets written in one turn of the event loop leave in one write: a payment's PUBACK and
   * the speaker's "played" ack usually come out of the same incoming packet's handling, and two
   * syscalls per payment were a tenth of a fleet worker's CPU.
   */
  private write(buf: Buffer): void {
    // Anything sent counts as a sign of life: the keep-alive starts over (not while a ping waits).
    if (this.pingSentAt === 0) this.keepaliveTimer?.refresh();
    const stream = this.stream;
    if (!this.corked) {
      this.corked = true;
      stream.cork();
      process.nextTick(() => {
        this.corked = false;
        stream.uncork();
      });
    }
    stream.write(buf);
  }

  /**
   * As MQTT.js does: a PINGREQ once nothing was sent for a whole keep-alive (the timer is
   * restarted by every write, which is cheap: Timeout.refresh), then half a keep-alive for the
   * PINGRESP: a dead link is called dead within 1.5 keep-alives, as the firmware's log says.
   * Pinging more often would cost a fleet of 100,000 speakers thousands of packets a second.
   */
  private armKeepalive(ms: number): void {
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = setTimeout(() => this.onKeepalive(), ms);
    this.keepaliveTimer.unref();
  }

  private onKeepalive(): void {
    const keepaliveMs = (this.opts.keepalive ?? 60) * 1000;
    if (this.pingSentAt !== 0) {
      this.emit('error', new Error('Keepalive timeout'));
      this.stream.destroy();
      return;
    }
    this.pingSentAt = Date.now();
    this.write(PINGREQ);
    this.armKeepalive(keepaliveMs / 2);
  }

  private cleanUp(err: Error): void {
    this.connected = false;
    this.pingSentAt = 0;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.keepaliveTimer = this.connectTimer = null;
    this.queue.length = 0;
    this.working = false;
    for (const waiting of [this.publishes, this.subscribes] as Map<number, Waiter>[]) {
      const all = [...waiting.values()];
      waiting.clear();
      for (const w of all) w.reject(err);
    }
    for (const wake of this.onDrained.splice(0)) wake();
  }
}

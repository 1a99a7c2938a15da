/**
 * The virtual speaker: the firmware's controller. It keeps a persistent MQTT session, takes
 * notifications from its own topic, rejects bad ones with a specific reason, announces good
 * ones exactly once through the Announcer, and acks every one. Hardware comes from a Board.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  encodeAck,
  parseNotification,
  topics,
  PROTOCOL_VERSION,
  type Ack,
  type Notification,
  type Rejection,
} from '../src/protocol/index.ts';
import type { Language } from '../src/speech/index.ts';
import type { TtsEngine } from '../src/audio/tts/engine.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { disableNagle } from '../src/mqtt/no-delay.ts';
import { VERSION } from '../src/version.ts';
import { Announcer, type Announcement } from './announcer.ts';
import { RecentIds } from './recent-ids.ts';
import type { Board } from './board.ts';
import type { SpeakerEvent } from './events.ts';

export interface SpeakerOptions {
  id: string;
  brokerUrl: string;
  lang: Language;
  board: Board;
  voice: TtsEngine;
  log?: Logger;
  /** Extra MQTT.js options (credentials, timings in tests). */
  mqtt?: IClientOptions;
}

export class Speaker extends EventEmitter<{ event: [SpeakerEvent] }> {
  private client: MqttClient | null = null;
  private readonly announcer: Announcer;
  private readonly seen = new RecentIds(1000);
  private readonly log: Logger;

  constructor(private readonly opts: SpeakerOptions) {
    super();
    this.log = (opts.log ?? silentLogger).child({ device: opts.id });
    this.announcer = new Announcer(opts.voice, opts.board.audio, opts.lang);
  }

  get id(): string {
    return this.opts.id;
  }

  /** Connects and resolves once subscribed; keeps reconnecting afterwards like a real box. */
  start(): Promise<void> {
    const { id, brokerUrl } = this.opts;
    const client = mqtt.connect(brokerUrl, {
      clientId: `payspeaker-${id}`,
      clean: false, // persistent session: the broker keeps QoS 1 notifications while we are away
      keepalive: 120,
      reconnectPeriod: 1000,
      will: { topic: topics.state(id), payload: Buffer.from(this.stateJson(false)), qos: 1, retain: true },
      ...this.opts.mqtt,
    });
    this.client = disableNagle(client);
    client.on('message', (topic, payload) => {
      if (topic === topics.notify(id)) this.onNotify(payload);
    });
    client.on('offline', () => this.emitEvent({ event: 'offline', device: id, broker: brokerUrl }));
    client.on('error', (err) => this.log.warn({ broker: brokerUrl, err: err.message }, 'broker connection problem; retrying'));
    return new Promise((resolve) => {
      client.on('connect', () => {
        void this.onConnect().then(resolve, (err: Error) => this.log.error({ err: err.message }, 'could not subscribe'));
      });
    });
  }

  /** Waits for queued announcements, says goodbye on the state topic, and disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = null;
    await this.announcer.idle();
    if (client.connected) {
      await client.publishAsync(topics.state(this.id), this.stateJson(false), { qos: 1, retain: true }).catch(() => undefined);
    }
    await client.endAsync();
    await this.opts.board.close();
  }

  /** Resolves once every announcement queued so far has played. */
  idle(): Promise<void> {
    return this.announcer.idle();
  }

  private async onConnect(): Promise<void> {
    const client = this.client!;
    await client.subscribeAsync(topics.notify(this.id), { qos: 1 });
    await client.publishAsync(topics.state(this.id), this.stateJson(true), { qos: 1, retain: true });
    this.emitEvent({ event: 'online', device: this.id, broker: this.opts.brokerUrl });
  }

  private onNotify(payload: Buffer): void {
    const parsed = parseNotification(payload, this.id);
    if (!parsed.ok) return this.reject(parsed.rejection);
    const n = parsed.notification;
    if (this.seen.has(n.id)) {
      this.emitEvent({ event: 'duplicate', device: this.id, id: n.id });
      return this.sendAck({ id: n.id, status: 'duplicate' });
    }
    // Marked before playing, so a redelivery that arrives mid-announcement is a duplicate too.
    this.seen.add(n.id);
    this.announcer.announce(n).then(
      (a) => this.played(a),
      (err: Error) => this.audioFailed(n, err),
    );
  }

  private played(a: Announcement): void {
    const n = a.notification;
    this.emitEvent({
      event: 'announced',
      device: this.id,
      id: n.id,
      text: a.text,
      status: 'played',
      amount: n.amount,
      currency: n.currency,
      channel: n.channel,
      kind: n.kind,
      latencyMs: this.opts.board.clock.now() - n.createdAt,
      durationMs: Math.round(a.playback.durationMs),
      sink: a.playback.sink,
      ...(a.playback.file ? { file: a.playback.file } : {}),
    });
    this.sendAck({ id: n.id, status: 'played', text: a.text });
  }

  private audioFailed(n: Notification, err: Error): void {
    this.seen.delete(n.id); // not announced, so a retry must be allowed to play
    this.reject({ reason: 'audio-failed', detail: `could not play the announcement: ${err.message}`, id: n.id });
  }

  private reject(r: Rejection): void {
    this.log.warn({ payment: r.id, reason: r.reason }, `rejected a notification: ${r.detail}`);
    this.emitEvent({ event: 'rejected', device: this.id, id: r.id, reason: r.reason, detail: r.detail });
    this.sendAck({ id: r.id, status: 'rejected', reason: r.reason, detail: r.detail });
  }

  private sendAck(fields: Omit<Ack, 'v' | 'device' | 'at'>): void {
    const ack: Ack = { v: PROTOCOL_VERSION, device: this.id, ...fields, at: this.opts.board.clock.now() };
    // Offline? MQTT.js queues the publish and sends it after reconnecting.
    this.client?.publishAsync(topics.ack(this.id), encodeAck(ack), { qos: 1 }).catch((err: Error) => {
      this.log.warn({ payment: ack.id, err: err.message }, 'could not send ack');
    });
  }

  private stateJson(online: boolean): string {
    return JSON.stringify({ v: PROTOCOL_VERSION, device: this.id, online, firmware: VERSION, lang: this.opts.lang });
  }

  private emitEvent(e: SpeakerEvent): void {
    if (e.event === 'announced') this.log.info({ payment: e.id, latencyMs: e.latencyMs }, `announced: ${e.text}`);
    this.emit('event', e);
  }
}

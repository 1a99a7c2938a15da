/**
 * Tracks what each device played, from the acks and retained states devices publish, and
 * when each one connected or disconnected. This is the cloud's view of its fleet: who is
 * online, what each speaker says about itself (firmware, language, volume) and what it said.
 * `onChange` tells the API's event stream which device to show again.
 *
 * Its log lines are a device's to cause, so they go through a ThrottledLog: one line per device
 * and kind (acked, rejected, malformed ack, malformed state) per second, then a count, with the
 * text a device sent (payment id, reason, detail, spoken text) cut to 200 characters.
 */
import { subscribeInternal } from './internal-subscribe.ts';
import type { Aedes, AedesPublishPacket } from 'aedes';
import { isDeviceId, parseAck, parseDeviceTopic, topics, type Ack, type AckStatus } from '../src/protocol/index.ts';
import type { Logger } from '../src/log.ts';
import { deviceClientId } from './auth.ts';
import { clip, ThrottledLog } from './log-throttle.ts';

/** Enough history to answer "what did SPK-0001 just say" without growing without bound. */
export const RECENT_ACKS = 100;

/**
 * The latest retained state message a device published (device/extensions/presence.ts), or
 * its last will. It is the device's word, kept as it said it: `online` here is what it
 * reported, not whether it is connected now. A field of another type is left out (null).
 */
export interface ReportedState {
  online: boolean;
  firmware: string | null;
  lang: string | null;
  volume: number | null;
  /** When the broker received it. */
  at: number;
}

export interface DeviceRecord {
  id: string;
  /** What its latest state message said. */
  online: boolean;
  lastSeen: number | null;
  counts: Record<AckStatus, number>;
  recent: Ack[];
  state: ReportedState | null;
}

/** A device writes these strings; what it may make the API repeat is bounded. */
const MAX_REPORTED_CHARS = 64;
const CLIENT_ID_PREFIX = deviceClientId('');

export class PlaybackTracker {
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly lines: ThrottledLog;
  private readonly listeners = new Set<(device: string) => void>();

  constructor(
    log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.lines = new ThrottledLog(log);
  }

  /** Subscribes inside the broker: no extra connection, sees every device. */
  attach(aedes: Aedes): Promise<void> {
    const subscribe = (topic: string, handle: (packet: AedesPublishPacket) => void) =>
      subscribeInternal(aedes, topic, handle);
    // aedes emits clientDisconnect after removing the client, so a listener already sees it offline.
    aedes.on('client', (client) => this.onPresence(client.id));
    aedes.on('clientDisconnect', (client) => this.onPresence(client.id));
    return Promise.all([
      subscribe(topics.allAcks, (p) => this.onAck(p)),
      subscribe(topics.allStates, (p) => this.onState(p)),
    ]).then(() => undefined);
  }

  /**
   * Calls `listener` with a device's id whenever it connects, disconnects, publishes its state
   * or acks; returns the unsubscribe.
   */
  onChange(listener: (device: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  device(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  all(): DeviceRecord[] {
    return [...this.devices.values()];
  }

  private record(id: string): DeviceRecord {
    let rec = this.devices.get(id);
    if (!rec) {
      rec = {
        id,
        online: false,
        lastSeen: null,
        counts: { played: 0, duplicate: 0, rejected: 0, summarized: 0 },
        recent: [],
        state: null,
      };
      this.devices.set(id, rec);
    }
    return rec;
  }

  private onAck(packet: AedesPublishPacket): void {
    const where = parseDeviceTopic(packet.topic);
    if (!where) return;
    const device = where.deviceId;
    let ack: Ack;
    try {
      ack = parseAck(packet.payload as Buffer);
    } catch (err) {
      this.lines.warn(
        `${device}|malformed-ack`,
        `malformed acks from device ${device}`,
        { device, err: clip((err as Error).message) },
        'ignored a malformed ack',
      );
      return;
    }
    const rec = this.record(device);
    rec.lastSeen = this.now();
    rec.counts[ack.status] += 1;
    rec.recent.push(ack);
    if (rec.recent.length > RECENT_ACKS) rec.recent.shift();
    const fields = {
      device,
      payment: clip(ack.id),
      status: ack.status,
      reason: clip(ack.reason),
      text: clip(ack.text),
    };
    if (ack.status === 'rejected')
      this.lines.warn(
        `${device}|rejected`,
        `rejections from device ${device}`,
        fields,
        `device rejected a notification: ${clip(ack.detail ?? ack.reason)}`,
      );
    else this.lines.info(`${device}|acked`, `acks from device ${device}`, fields, 'device acked');
    this.changed(device);
  }

  /** A device's MQTT client (id payspeaker-<device>) connected or went away. */
  private onPresence(clientId: string): void {
    if (!clientId.startsWith(CLIENT_ID_PREFIX)) return;
    const device = clientId.slice(CLIENT_ID_PREFIX.length);
    if (!isDeviceId(device)) return;
    this.record(device).lastSeen = this.now();
    this.changed(device);
  }

  private changed(device: string): void {
    for (const listener of this.listeners) {
      try {
        listener(device);
      } catch (err) {
        // A broken subscriber must not break the broker's delivery of the message.
        this.lines.warn(
          'tracker|listener',
          'failing device listeners',
          { err: clip((err as Error).message) },
          'a device listener failed',
        );
      }
    }
  }

  private onState(packet: AedesPublishPacket): void {
    const where = parseDeviceTopic(packet.topic);
    if (!where) return;
    try {
      const state = JSON.parse((packet.payload as Buffer).toString('utf8')) as Record<string, unknown> | null;
      if (typeof state !== 'object' || state === null) throw new Error('not an object');
      const rec = this.record(where.deviceId);
      rec.online = state.online === true;
      rec.lastSeen = this.now();
      rec.state = {
        online: rec.online,
        firmware: reportedString(state.firmware),
        lang: reportedString(state.lang),
        volume: typeof state.volume === 'number' && Number.isFinite(state.volume) ? state.volume : null,
        at: rec.lastSeen,
      };
    } catch {
      const device = where.deviceId;
      this.lines.warn(
        `${device}|malformed-state`,
        `malformed state messages from device ${device}`,
        { device },
        'ignored a malformed state message',
      );
      return;
    }
    this.changed(where.deviceId);
  }
}

function reportedString(value: unknown): string | null {
  return typeof value === 'string' ? value.slice(0, MAX_REPORTED_CHARS) : null;
}

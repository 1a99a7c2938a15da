/**
 * Tracks what each device played, from the acks and retained states devices publish.
 * This is the cloud's view of its fleet: who is online, and what each speaker said.
 *
 * Its log lines are a device's to cause, so they go through a ThrottledLog: one line per device
 * and kind (acked, rejected, malformed ack, malformed state) per second, then a count, with the
 * text a device sent (payment id, reason, detail, spoken text) cut to 200 characters.
 */
import type { Aedes, AedesPublishPacket } from 'aedes';
import { parseAck, parseDeviceTopic, topics, type Ack, type AckStatus } from '../src/protocol/index.ts';
import type { Logger } from '../src/log.ts';
import { clip, ThrottledLog } from './log-throttle.ts';

/** Enough history to answer "what did SPK-0001 just say" without growing without bound. */
export const RECENT_ACKS = 100;

export interface DeviceRecord {
  id: string;
  online: boolean;
  lastSeen: number | null;
  counts: Record<AckStatus, number>;
  recent: Ack[];
}

export class PlaybackTracker {
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly lines: ThrottledLog;

  constructor(
    log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.lines = new ThrottledLog(log);
  }

  /** Subscribes inside the broker: no extra connection, sees every device. */
  attach(aedes: Aedes): Promise<void> {
    const subscribe = (topic: string, handle: (packet: AedesPublishPacket) => void) =>
      new Promise<void>((resolve) =>
        aedes.subscribe(
          topic,
          (packet, done) => {
            handle(packet);
            done();
          },
          resolve,
        ),
      );
    return Promise.all([
      subscribe(topics.allAcks, (p) => this.onAck(p)),
      subscribe(topics.allStates, (p) => this.onState(p)),
    ]).then(() => undefined);
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
  }

  private onState(packet: AedesPublishPacket): void {
    const where = parseDeviceTopic(packet.topic);
    if (!where) return;
    try {
      const state = JSON.parse((packet.payload as Buffer).toString('utf8')) as { online?: unknown };
      const rec = this.record(where.deviceId);
      rec.online = state.online === true;
      rec.lastSeen = this.now();
    } catch {
      const device = where.deviceId;
      this.lines.warn(
        `${device}|malformed-state`,
        `malformed state messages from device ${device}`,
        { device },
        'ignored a malformed state message',
      );
    }
  }
}

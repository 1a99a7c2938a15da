/**
 * Tracks what each device played, from the acks and retained states devices publish.
 * This is the cloud's view of its fleet: who is online, and what each speaker said.
 */
import type { Aedes, AedesPublishPacket } from 'aedes';
import { parseAck, parseDeviceTopic, topics, type Ack, type AckStatus } from '../src/protocol/index.ts';
import type { Logger } from '../src/log.ts';

/** Enough history to answer "what did SPK-0001 just say" without growing without bound. */
const RECENT_ACKS = 100;

export interface DeviceRecord {
  id: string;
  online: boolean;
  lastSeen: number | null;
  counts: Record<AckStatus, number>;
  recent: Ack[];
}

export class PlaybackTracker {
  private readonly devices = new Map<string, DeviceRecord>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

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
    let ack: Ack;
    try {
      ack = parseAck(packet.payload as Buffer);
    } catch (err) {
      this.log.warn({ device: where.deviceId, err: (err as Error).message }, 'ignored a malformed ack');
      return;
    }
    const rec = this.record(where.deviceId);
    rec.lastSeen = this.now();
    rec.counts[ack.status] += 1;
    rec.recent.push(ack);
    if (rec.recent.length > RECENT_ACKS) rec.recent.shift();
    const fields = { device: where.deviceId, payment: ack.id, status: ack.status, reason: ack.reason, text: ack.text };
    if (ack.status === 'rejected') this.log.warn(fields, `device rejected a notification: ${ack.detail ?? ack.reason}`);
    else this.log.info(fields, 'device acked');
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
      this.log.warn({ device: where.deviceId }, 'ignored a malformed state message');
    }
  }
}

/**
 * The broker tells speakers the time (issue 12): a box whose real-time clock lost power boots
 * in 1970 and would refuse every payment as from the future. A device asks on its own
 * `payspeaker/v1/devices/{id}/time/req` with a fresh nonce; this answers on `…/{id}/time` with
 * the broker's wall clock, the nonce, and the backend's signature over both (src/protocol/time.ts).
 *
 * It listens to aedes's 'publish' event, not to a subscription: the event carries the client
 * that published, and it fires only on the broker that client is connected to, so in a cluster
 * one broker answers, not every one. A request is answered only when its topic names the
 * publishing client's own device (client id `payspeaker-{id}`; the ACL already refuses anything
 * else on a secure broker), and at most once per device per `minIntervalMs`, so nobody can make
 * the broker sign in a loop. The answer goes out through aedes.publish (no authorizePublish;
 * authorizeForward still checks it reaches only that device), QoS 0, never retained: it is
 * worth nothing to a later session.
 */
import type { Aedes, AedesPublishPacket, Client } from 'aedes';
import {
  encodeTimeAnswer,
  parseDeviceTopic,
  parseTimeRequest,
  PROTOCOL_VERSION,
  topics,
  type TimeAnswer,
  type UnsignedTimeAnswer,
} from '../src/protocol/index.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { deviceOfClientId } from './auth.ts';
import { clip, ThrottledLog } from './log-throttle.ts';

export interface ClockServiceOptions {
  /**
   * Signs an answer with the backend key: `(a) => signTimeAnswer(a, privateKey)`. Without it
   * answers go out unsigned, which only an --insecure speaker accepts.
   */
  sign?: (answer: UnsignedTimeAnswer) => TimeAnswer;
  log?: Logger;
  /** The broker's wall clock (tests). Default Date.now. */
  now?: () => number;
  /** At most one answer per device per this many ms. Default 1000. */
  minIntervalMs?: number;
}

/** Starts answering; returns the function that stops it. */
export function startClockService(aedes: Aedes, opts: ClockServiceOptions = {}): () => void {
  const log = opts.log ?? silentLogger;
  const lines = new ThrottledLog(log);
  const now = opts.now ?? Date.now;
  const interval = opts.minIntervalMs ?? 1000;
  // Two generations of "answered at", swapped every interval: O(1) per request and bounded by the
  // devices heard from in the last two intervals, however many a fleet has.
  let recent = new Map<string, number>();
  let older = new Map<string, number>();
  let swappedAt = now();

  const answeredLately = (device: string, t: number): boolean => {
    if (t - swappedAt >= interval) {
      older = t - swappedAt >= 2 * interval ? new Map() : recent;
      recent = new Map();
      swappedAt = t;
    }
    const last = recent.get(device) ?? older.get(device);
    return last !== undefined && t - last < interval && t >= last;
  };

  const onPublish = (packet: AedesPublishPacket, client: Client | null) => {
    // Cheap test first: aedes emits every publish, payments included.
    if (!client || !packet.topic.endsWith('/time/req')) return;
    const where = parseDeviceTopic(packet.topic);
    if (!where || where.leaf !== 'time/req') return;
    const device = where.deviceId;
    if (deviceOfClientId(client.id) !== device) {
      lines.warn(
        `time|${client.id}|not-own`,
        `time requests from ${clip(client.id, 80)} for other devices`,
        { clientId: clip(client.id, 80), device },
        `ignored a time request for ${device} from client ${clip(client.id, 80)}: a device asks only for itself`,
      );
      return;
    }
    const request = parseTimeRequest(packet.payload as Buffer);
    if (!request.ok) {
      lines.warn(
        `time|${device}|${request.reason}`,
        `malformed time requests from device ${device}`,
        { device, reason: request.reason },
        `ignored a malformed time request from device ${device}: ${clip(request.detail)}`,
      );
      return;
    }
    const t = now();
    if (answeredLately(device, t)) {
      lines.info(
        `time|${device}|throttled`,
        `time requests from device ${device} inside ${interval} ms`,
        { device },
        `device ${device} asked for the time again within ${interval} ms: not answered`,
      );
      return;
    }
    recent.set(device, t);
    const unsigned: UnsignedTimeAnswer = { v: PROTOCOL_VERSION, device, nonce: request.value.nonce, now: t };
    let answer: TimeAnswer;
    try {
      answer = opts.sign ? opts.sign(unsigned) : unsigned;
    } catch (err) {
      log.error({ device, err: (err as Error).message }, 'could not sign a time answer');
      return;
    }
    aedes.publish(
      {
        cmd: 'publish',
        topic: topics.time(device),
        payload: Buffer.from(encodeTimeAnswer(answer)),
        qos: 0,
        retain: false,
        dup: false,
      },
      (err?: Error) => {
        if (err) log.warn({ device, err: err.message }, 'could not send a time answer');
      },
    );
  };

  aedes.on('publish', onPublish);
  return () => {
    aedes.removeListener('publish', onPublish);
    lines.flush();
  };
}

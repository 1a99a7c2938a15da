/**
 * The few MQTT 3.1.1 packets a speaker exchanges (OASIS MQTT 3.1.1, §2–3), encoded and decoded
 * by hand: CONNECT, PUBLISH, PUBACK, SUBSCRIBE, PINGREQ and DISCONNECT out; CONNACK, PUBLISH,
 * PUBACK, SUBACK and PINGRESP in. Why not mqtt-packet, the library MQTT.js and aedes use: its
 * parser is a stream with a BufferList per connection (about 2 KB each, 10,000 times over in a
 * fleet worker) and it validates every field on every packet; here a connection keeps at most
 * one partial packet, and the fields are ours (topics and ids checked upstream). Anything else
 * a broker sends (QoS 2 flows, UNSUBACK) is reported as unexpected, never guessed at.
 */

export type Incoming =
  | { type: 'connack'; sessionPresent: boolean; returnCode: number }
  | { type: 'publish'; topic: string; payload: Buffer; qos: number; retain: boolean; dup: boolean; messageId: number }
  | { type: 'puback'; messageId: number }
  | { type: 'suback'; messageId: number; granted: number[] }
  | { type: 'pingresp' }
  | { type: 'unexpected'; code: number };

export interface ConnectFields {
  clientId: string;
  clean: boolean;
  keepaliveS: number;
  username?: string;
  password?: string | Buffer;
  will?: { topic: string; payload: string | Buffer; qos: number; retain: boolean };
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

/** The remaining-length field: 7 bits per byte, high bit set on all but the last (§2.2.3). */
function lengthBytes(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A packet of `size` remaining bytes, written by `fill` from offset `at` on. */
function packet(first: number, size: number, fill: (buf: Buffer, at: number) => void): Buffer {
  const len = lengthBytes(size);
  const buf = Buffer.allocUnsafe(1 + len.length + size);
  buf[0] = first;
  for (let i = 0; i < len.length; i++) buf[1 + i] = len[i]!;
  fill(buf, 1 + len.length);
  return buf;
}

function writeString(buf: Buffer, at: number, s: string | Buffer): number {
  const n = typeof s === 'string' ? buf.write(s, at + 2, 'utf8') : s.copy(buf, at + 2);
  buf.writeUInt16BE(n, at);
  return at + 2 + n;
}

const sizeOf = (s: string | Buffer) => 2 + (typeof s === 'string' ? utf8Length(s) : s.length);

export function encodeConnect(c: ConnectFields): Buffer {
  let size = 10 + sizeOf(c.clientId);
  let flags = c.clean ? 0x02 : 0;
  if (c.will) {
    size += sizeOf(c.will.topic) + sizeOf(c.will.payload);
    flags |= 0x04 | (c.will.qos << 3) | (c.will.retain ? 0x20 : 0);
  }
  if (c.username !== undefined) {
    size += sizeOf(c.username);
    flags |= 0x80;
  }
  if (c.password !== undefined) {
    size += sizeOf(c.password);
    flags |= 0x40;
  }
  return packet(0x10, size, (buf, at) => {
    at = writeString(buf, at, 'MQTT');
    buf[at++] = 4; // protocol level: 3.1.1
    buf[at++] = flags;
    buf.writeUInt16BE(c.keepaliveS, at);
    at = writeString(buf, at + 2, c.clientId);
    if (c.will) at = writeString(buf, writeString(buf, at, c.will.topic), c.will.payload);
    if (c.username !== undefined) at = writeString(buf, at, c.username);
    if (c.password !== undefined) writeString(buf, at, c.password);
  });
}

export function encodePublish(
  topic: string,
  payload: string | Buffer,
  qos: number,
  retain: boolean,
  id: number,
): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const size = sizeOf(topic) + (qos > 0 ? 2 : 0) + body.length;
  return packet(0x30 | (qos << 1) | (retain ? 1 : 0), size, (buf, at) => {
    at = writeString(buf, at, topic);
    if (qos > 0) {
      buf.writeUInt16BE(id, at);
      at += 2;
    }
    body.copy(buf, at);
  });
}

export function encodePuback(id: number): Buffer {
  return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
}

export function encodeSubscribe(id: number, topics: string[], qos: number): Buffer {
  const size = 2 + topics.reduce((n, t) => n + sizeOf(t) + 1, 0);
  return packet(0x82, size, (buf, at) => {
    buf.writeUInt16BE(id, at);
    at += 2;
    for (const t of topics) {
      at = writeString(buf, at, t);
      buf[at++] = qos;
    }
  });
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/**
 * Cuts a byte stream into packets. Keeps at most one incomplete packet between reads; a
 * remaining length over four bytes is a protocol error (thrown: the caller drops the link).
 */
export class PacketReader {
  private pending: Buffer | null = null;

  /** Every complete packet in what has arrived so far, in order. */
  read(chunk: Buffer, onPacket: (p: Incoming) => void): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let size = 0;
      let mul = 1;
      let i = at + 1;
      let complete = false;
      for (; i < buf.length && i < at + 5; i++) {
        size += (buf[i]! & 0x7f) * mul;
        mul *= 128;
        if ((buf[i]! & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i >= at + 5) throw new Error('malformed packet from the broker: remaining length over 4 bytes');
        break;
      }
      const start = i + 1;
      const end = start + size;
      if (end > buf.length) break;
      onPacket(decode(buf[at]!, buf.subarray(start, end)));
      at = end;
    }
    if (at < buf.length) this.pending = at === 0 ? buf : buf.subarray(at);
  }
}

function decode(first: number, body: Buffer): Incoming {
  switch (first >> 4) {
    case 2:
      return { type: 'connack', sessionPresent: (body[0]! & 1) === 1, returnCode: body[1]! };
    case 3: {
      const qos = (first >> 1) & 3;
      const topicLength = body.readUInt16BE(0);
      const topic = body.toString('utf8', 2, 2 + topicLength);
      let at = 2 + topicLength;
      let messageId = 0;
      if (qos > 0) {
        messageId = body.readUInt16BE(at);
        at += 2;
      }
      return {
        type: 'publish',
        topic,
        payload: body.subarray(at),
        qos,
        retain: (first & 1) === 1,
        dup: (first & 8) === 8,
        messageId,
      };
    }
    case 4:
      return { type: 'puback', messageId: body.readUInt16BE(0) };
    case 9:
      return { type: 'suback', messageId: body.readUInt16BE(0), granted: [...body.subarray(2)] };
    case 13:
      return { type: 'pingresp' };
    default:
      return { type: 'unexpected', code: first >> 4 };
  }
}

/**
 * Building blocks for fuzzing the broker's MQTT front door (test/broker/fuzz.test.ts): a raw
 * TCP probe with a deadline, a CONNECT builder whose every field and length may lie, MQTT's
 * variable-length integer in its honest and dishonest encodings, and fast-check arbitraries
 * that mutate valid packets made by mqtt-packet.
 */
import net from 'node:net';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';

/** What one probe saw: the bytes the broker answered with and whether it closed the connection. */
export interface ProbeResult {
  received: Buffer;
  /** The broker (not the deadline) ended the connection. */
  closedByBroker: boolean;
  /** The socket could not connect at all: the broker stopped listening. */
  connectError: string | null;
}

export interface ProbeOptions {
  /** Written first; the rest waits until the broker answers with this many bytes (a CONNACK) or closes. */
  handshake?: Uint8Array;
  handshakeBytes?: number;
  /** Written one after another, each in its own write (so packets also arrive split across reads). */
  chunks: Uint8Array[];
  /** After the last write, how long to wait for the broker's answer or close. */
  lingerMs: number;
  /** The whole probe ends by then, whatever happens. */
  deadlineMs: number;
  /** Ends the probe as soon as the broker has answered this many bytes. */
  untilBytes?: number;
}

/** One fresh connection: handshake, then the chunks, then wait; always resolves, never leaves the socket open. */
export function probe(port: number, opts: ProbeOptions): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    let total = 0;
    let closedByBroker = false;
    let connectError: string | null = null;
    let done = false;
    let linger: NodeJS.Timeout | undefined;
    let afterHandshake: (() => void) | null = null;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(linger);
      socket.destroy();
      resolve({ received: Buffer.concat(received), closedByBroker, connectError });
    };
    const deadline = setTimeout(finish, opts.deadlineMs);
    socket.setNoDelay(true);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') connectError = err.message;
    });
    socket.on('data', (d: Buffer) => {
      received.push(d);
      total += d.length;
      if (opts.untilBytes !== undefined && total >= opts.untilBytes) return finish();
      if (afterHandshake && total >= (opts.handshakeBytes ?? 4)) {
        const go = afterHandshake;
        afterHandshake = null;
        go();
      }
    });
    socket.on('close', () => {
      closedByBroker = !done;
      finish();
    });
    const writeChunks = () => {
      for (const chunk of opts.chunks) if (!socket.destroyed && chunk.length > 0) socket.write(chunk);
      linger = setTimeout(finish, opts.lingerMs);
    };
    socket.on('connect', () => {
      if (!opts.handshake) return writeChunks();
      afterHandshake = writeChunks;
      socket.write(opts.handshake);
    });
  });
}

/** MQTT's "remaining length": 7 bits a byte, low first, high bit = more follows. */
export function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** How a packet's remaining length is written: honestly, or one of the ways a peer can lie. */
export type LengthEncoding =
  | { kind: 'exact' }
  /** The true value, padded with continuation bytes: non-minimal, up to `pad` extra bytes. */
  | { kind: 'padded'; pad: number }
  /** Five or more bytes, all with the continuation bit: longer than the 4 MQTT allows. */
  | { kind: 'overlong'; bytes: number }
  /** The true value plus `delta` (may be negative): the body is shorter or longer than declared. */
  | { kind: 'off-by'; delta: number }
  /** A fixed declared value, whatever the body (0 … 268,435,455, the largest MQTT allows). */
  | { kind: 'declared'; value: number };

export function encodeLength(bodyLength: number, enc: LengthEncoding): number[] {
  switch (enc.kind) {
    case 'exact':
      return varint(bodyLength);
    case 'padded': {
      const bytes = varint(bodyLength);
      bytes[bytes.length - 1]! |= 0x80;
      for (let i = 1; i < enc.pad; i++) bytes.push(0x80);
      bytes.push(0x00);
      return bytes;
    }
    case 'overlong':
      return [...Array.from({ length: enc.bytes }, () => 0xff), 0x01];
    case 'off-by':
      return varint(Math.max(0, bodyLength + enc.delta));
    case 'declared':
      return varint(enc.value);
  }
}

/** A length-prefixed field whose declared length may lie (`declared` ≠ the bytes that follow). */
export interface Field {
  bytes: Uint8Array;
  /** The 16-bit length written before it; the true length when absent. */
  declared?: number;
}

function field(f: Field): number[] {
  const n = f.declared ?? f.bytes.length;
  return [(n >> 8) & 0xff, n & 0xff, ...f.bytes];
}

/** Every part of a CONNECT, each free to be wrong. */
export interface ConnectFields {
  /** The fixed header's first byte: 0x10 for a CONNECT; its low nibble must be 0. */
  header: number;
  protocolName: Field;
  protocolLevel: number;
  flags: number;
  keepalive: number;
  /** MQTT 5 only: the properties block, written as it is (its own length first). */
  properties?: Uint8Array;
  clientId: Field;
  /** MQTT 5 only: the will's properties block, before the will topic. */
  willProperties?: Uint8Array;
  willTopic?: Field;
  willPayload?: Field;
  username?: Field;
  password?: Field;
  length: LengthEncoding;
  /** Bytes after the last field (inside or beyond the declared length). */
  trailer: Uint8Array;
}

export function buildConnect(c: ConnectFields, secret?: string): Buffer {
  if (secret !== undefined && c.password?.bytes === SECRET)
    c = { ...c, password: { ...c.password, bytes: new Uint8Array(Buffer.from(secret)) } };
  const body = [
    ...field(c.protocolName),
    c.protocolLevel & 0xff,
    c.flags & 0xff,
    (c.keepalive >> 8) & 0xff,
    c.keepalive & 0xff,
    ...(c.properties ?? []),
    ...field(c.clientId),
    ...(c.willProperties ?? []),
    ...(c.willTopic ? field(c.willTopic) : []),
    ...(c.willPayload ? field(c.willPayload) : []),
    ...(c.username ? field(c.username) : []),
    ...(c.password ? field(c.password) : []),
    ...c.trailer,
  ];
  return Buffer.from([c.header & 0xff, ...encodeLength(body.length, c.length), ...body]);
}

/** A valid CONNECT (MQTT 3.1.1, clean session) with these credentials, as a well-behaved client sends it. */
export function validConnect(clientId: string, username: string, password: string, keepalive = 30): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId,
    keepalive,
    username,
    password: Buffer.from(password),
  });
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** Text that matters to a broker: empty, ours, wildcards, separators, NULs, bad UTF-8, long. */
export const awkwardBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .constantFrom(
      '',
      'MQTT',
      'MQIsdp',
      'payspeaker-SPK-FUZZ-1',
      'SPK-FUZZ-1',
      '#',
      '+',
      '/',
      '//',
      '$SYS/#',
      'payspeaker/v1/devices/SPK-FUZZ-LEGIT/notify',
      'payspeaker/v1/devices/+/notify',
      'payspeaker/v1/devices/SPK-FUZZ-1/state',
      'a/b/c/d/e/f/g/h/i/j/k',
      '\u0000',
      'a\u0000b',
      '\uffff',
      '\ud83d\udd0a',
    )
    .map(utf8),
  fc.constantFrom(
    new Uint8Array([0xff, 0xfe]),
    new Uint8Array([0xc0, 0x80]),
    new Uint8Array([0xed, 0xa0, 0x80]),
    new Uint8Array([0xf4, 0x90, 0x80, 0x80]),
  ),
  fc.string({ maxLength: 40 }).map(utf8),
  fc.uint8Array({ maxLength: 40 }),
  fc.integer({ min: 60, max: 400 }).map((n) => utf8('x'.repeat(n))),
);

/** A field whose declared length is usually true, sometimes a little or wildly off. */
export const awkwardField: fc.Arbitrary<Field> = fc.oneof(
  { weight: 4, arbitrary: awkwardBytes.map((bytes) => ({ bytes })) },
  {
    weight: 1,
    arbitrary: fc.record({
      bytes: awkwardBytes,
      declared: fc.oneof(fc.constantFrom(0, 1, 0xffff, 0x8000), fc.integer({ min: 0, max: 0xffff })),
    }),
  },
);

/** An MQTT 5 properties block: empty, junk, or with a length longer than MQTT allows. */
const properties: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(new Uint8Array([0])) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f])) },
);

export const lengthEncoding: fc.Arbitrary<LengthEncoding> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'exact' as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((pad) => ({ kind: 'padded' as const, pad })) },
  { weight: 1, arbitrary: fc.integer({ min: 4, max: 9 }).map((bytes) => ({ kind: 'overlong' as const, bytes })) },
  { weight: 1, arbitrary: fc.integer({ min: -8, max: 8 }).map((delta) => ({ kind: 'off-by' as const, delta })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(fc.constantFrom(0, 1, 127, 128, 16_383, 16_384, 16_385, 2_097_151, 268_435_455), fc.nat(268_435_455))
      .map((value) => ({ kind: 'declared' as const, value })),
  },
);

/** Stands for the device's real secret in a generated CONNECT: `buildConnect(fields, secret)` puts it in. */
export const SECRET = utf8('<the real secret>');

/** Usually the honest value, now and then an awkward one. */
function mostly(bytes: Uint8Array): fc.Arbitrary<Field> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant({ bytes }) }, { weight: 1, arbitrary: awkwardField });
}

/** A CONNECT that starts out plausible, each field possibly mutated. */
export const mutatedConnect: fc.Arbitrary<ConnectFields> = fc
  .record({
    header: fc.oneof(
      { weight: 8, arbitrary: fc.constant(0x10) },
      { weight: 1, arbitrary: fc.integer({ min: 0x10, max: 0x1f }) },
    ),
    protocol: fc.oneof(
      // A name and level that belong together (3.1, 3.1.1, 5) …
      {
        weight: 6,
        arbitrary: fc.constantFrom(
          { name: { bytes: utf8('MQIsdp') }, level: 3 },
          { name: { bytes: utf8('MQTT') }, level: 4 },
          { name: { bytes: utf8('MQTT') }, level: 5 },
        ),
      },
      // … or any name with any level.
      {
        weight: 1,
        arbitrary: fc.record({
          name: fc.oneof(fc.constantFrom({ bytes: utf8('MQTT') }, { bytes: utf8('MQIsdp') }), awkwardField),
          level: fc.integer({ min: 0, max: 255 }),
        }),
      },
    ),
    flags: fc.integer({ min: 0, max: 255 }),
    keepalive: fc.oneof(fc.constantFrom(0, 1, 30, 65_535), fc.integer({ min: 0, max: 65_535 })),
    // Only MQTT 5 has them: added for level 5 below, and now and then where they do not belong.
    properties: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: properties }),
    clientId: mostly(utf8('payspeaker-SPK-FUZZ-1')),
    willTopic: fc.option(mostly(utf8('payspeaker/v1/devices/SPK-FUZZ-1/state')), { nil: undefined, freq: 3 }),
    willPayload: fc.option(mostly(utf8('{"v":1,"device":"SPK-FUZZ-1","online":false}')), { nil: undefined, freq: 3 }),
    username: fc.option(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant({ bytes: utf8('SPK-FUZZ-1') }) },
        { weight: 1, arbitrary: fc.constant({ bytes: utf8('backend') }) },
        { weight: 1, arbitrary: awkwardField },
      ),
      { nil: undefined, freq: 5 },
    ),
    // The real secret (SECRET, replaced by buildConnect's caller), a wrong one, or junk.
    password: fc.option(
      fc.oneof(
        { weight: 3, arbitrary: fc.constant({ bytes: SECRET }) },
        { weight: 1, arbitrary: fc.constant({ bytes: utf8('wrong-secret') }) },
        { weight: 1, arbitrary: awkwardField },
      ),
      { nil: undefined, freq: 5 },
    ),
    length: lengthEncoding,
    trailer: fc.oneof(
      { weight: 5, arbitrary: fc.constant(new Uint8Array()) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }) },
    ),
  })
  .chain(({ protocol, ...c }) => {
    const fields = { ...c, protocolName: protocol.name, protocolLevel: protocol.level };
    if (protocol.level !== 5) return fc.constant(fields);
    // MQTT 5 has a properties block after the keepalive, and another before the will topic.
    const will = fields.willTopic || fields.willPayload;
    return fc
      .tuple(properties, properties)
      .map(([p, wp]) => ({ ...fields, properties: fields.properties ?? p, willProperties: will ? wp : undefined }));
  })
  .chain((c) =>
    // Flags that match the fields present (as a client would set them), or any byte at all.
    fc
      .oneof(
        { weight: 3, arbitrary: fc.constant(consistentFlags(c)) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
      )
      .map((flags) => ({ ...c, flags }) as ConnectFields),
  );

/** The CONNECT flags byte a client would send for these fields: clean session, will QoS 1, retained. */
function consistentFlags(c: Omit<ConnectFields, 'flags'> & { flags: number }): number {
  let flags = 0x02;
  if (c.willTopic || c.willPayload) flags |= 0x04 | 0x08 | 0x20;
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  return flags;
}

/** One edit to a packet's bytes. */
export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'repeat'; times: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(0x00, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 20 }) }),
);

/** Applies the edits in order; positions wrap around the packet's current length. */
export function mutate(packet: Uint8Array, edits: readonly Mutation[]): Buffer {
  let b = Buffer.from(packet);
  for (const m of edits) {
    if (b.length === 0) break;
    const at = 'at' in m ? m.at % b.length : 0;
    switch (m.op) {
      case 'flip':
        b[at]! ^= 1 << m.bit;
        break;
      case 'set':
        b[at] = m.value;
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case 'repeat':
        b = Buffer.concat(Array.from({ length: m.times }, () => b));
        break;
    }
  }
  return b;
}

/** Splits bytes at the given cut points, so one packet arrives in several reads. */
export function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  if (bytes.length === 0) return [bytes];
  const points = [...new Set(cuts.map((c) => c % bytes.length))].filter((c) => c > 0).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

const topicArb = fc.oneof(
  fc.constantFrom(
    'payspeaker/v1/devices/SPK-FUZZ-1/ack',
    'payspeaker/v1/devices/SPK-FUZZ-1/state',
    'payspeaker/v1/devices/SPK-FUZZ-1/telemetry',
    'payspeaker/v1/devices/SPK-FUZZ-1/cmd/result',
    'payspeaker/v1/devices/SPK-FUZZ-1/notify',
    'payspeaker/v1/devices/SPK-FUZZ-1/cmd',
    'payspeaker/v1/devices/SPK-FUZZ-LEGIT/notify',
    'payspeaker/v1/devices/+/notify',
    'payspeaker/v1/#',
    '#',
    '+/+',
    '$SYS/broker/uptime',
    'a/b/c/d/e/f/g/h/i/j',
  ),
  fc.string({ minLength: 1, maxLength: 30 }),
);

const messageId = fc.integer({ min: 0, max: 65_535 });

/** Payloads a device topic might see: our JSON, almost our JSON, junk, large. */
const payloadArb = fc.oneof(
  fc.constantFrom(
    '',
    '{}',
    'null',
    '[]',
    '{"v":1}',
    '{"v":1,"id":"PAY-1","status":"played"}',
    '{"v":1,"device":"SPK-FUZZ-1","online":true}',
    '{"v":1,"id":"x","command":"volume","level":1e309}',
    '{"__proto__":{"polluted":1}}',
  ),
  fc.json({ maxDepth: 3 }),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a).toString('latin1')),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => '{"v":1,"pad":"' + 'x'.repeat(n) + '"}'),
);

/** A valid packet of the kinds a connected client sends, as mqtt-packet generates it (MQTT 3.1.1). */
export const validClientPacket: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.record({
      cmd: fc.constant('publish' as const),
      topic: topicArb,
      payload: payloadArb,
      qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
      retain: fc.boolean(),
      dup: fc.boolean(),
      messageId,
    }),
    fc.record({
      cmd: fc.constant('subscribe' as const),
      messageId,
      subscriptions: fc.array(
        fc.record({ topic: topicArb, qos: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2> }),
        { minLength: 1, maxLength: 4 },
      ),
    }),
    fc.record({
      cmd: fc.constant('unsubscribe' as const),
      messageId,
      unsubscriptions: fc.array(topicArb, { minLength: 1, maxLength: 4 }),
    }),
    fc.record({
      cmd: fc.constantFrom('puback' as const, 'pubrec' as const, 'pubrel' as const, 'pubcomp' as const),
      messageId,
    }),
    fc.record({ cmd: fc.constantFrom('pingreq' as const, 'disconnect' as const) }),
  )
  .map((p) => mqttPacket.generate(p as mqttPacket.Packet));

/**
 * Resource limits for the broker (issue 4, item 6): how big a packet may be, how deep a topic,
 * how long a client id, how many packets a client may have in flight, and how fast one address
 * may open connections. Payment speakers need little — a notification is ~300 bytes, a device
 * rejects one over 4 KiB, our topics have 4-5 levels — so the defaults are tight enough that a
 * flood of junk costs the broker almost nothing and loose enough that real traffic never
 * notices.
 *
 * The pieces here are small and pure (clocks are injected): a token bucket, a per-address
 * connection gate, a log throttle, and an MQTT frame scanner that knows each packet's size from
 * its fixed header before the body arrives.
 */
import type { Duplex } from 'node:stream';

export interface ConnectRate {
  /** Sustained connection attempts per second per client address. */
  perSecond: number;
  /** Attempts one address may make at once before the sustained rate applies. */
  burst: number;
}

export interface Limits {
  /** Largest MQTT packet (fixed header included) in bytes; a bigger one drops the connection. 0 = no cap. */
  maxPacketBytes: number;
  /** Most `/`-separated levels in a PUBLISH/SUBSCRIBE/will topic (aedes `maxTopicLevels`, 1-100). */
  maxTopicLevels: number;
  /** Longest client id, in characters, for every protocol version (aedes only checks MQTT 3.1). */
  maxClientIdLength: number;
  /** Inbound QoS 2 publishes a client may hold awaiting PUBREL (aedes `maxInflightInbound`). */
  maxInflightInbound: number;
  /** Packets a client may send before its CONNACK (aedes `queueLimit`). */
  queueLimit: number;
  /** A connection that has not sent CONNECT by then is dropped (aedes `connectTimeout`). */
  connectTimeoutMs: number;
  /** Per-address connection-attempt rate, counted when the socket is accepted; null = unlimited. */
  connectRate: ConnectRate | null;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxPacketBytes: 16 * 1024,
  maxTopicLevels: 8,
  maxClientIdLength: 64,
  maxInflightInbound: 32,
  queueLimit: 16,
  connectTimeoutMs: 10_000,
  connectRate: Object.freeze({ perSecond: 20, burst: 40 }),
});

/** The defaults with `overrides` applied; throws a plain-language error for a nonsensical value. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS, ...overrides };
  const whole = (name: keyof Limits, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = limits[name] as number;
    if (!Number.isInteger(v) || v < min || v > max)
      throw new Error(`limit ${name} must be a whole number from ${min} to ${max}, got ${v}`);
  };
  whole('maxPacketBytes', 0, MAX_REMAINING_LENGTH + 5);
  whole('maxTopicLevels', 1, 100);
  whole('maxClientIdLength', 1, 65_535);
  whole('maxInflightInbound', 1, 65_535);
  whole('queueLimit', 1, 10_000);
  whole('connectTimeoutMs', 100, 600_000);
  const rate = limits.connectRate;
  if (
    rate &&
    !(rate.perSecond > 0 && Number.isFinite(rate.perSecond) && Number.isInteger(rate.burst) && rate.burst >= 1)
  ) {
    throw new Error(`limit connectRate needs perSecond > 0 and a whole burst >= 1, got ${JSON.stringify(rate)}`);
  }
  return limits;
}

/** A classic token bucket: `burst` tokens, refilled at `perSecond`; each attempt takes one. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: ConnectRate,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rate.burst;
    this.last = now();
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True when the bucket has refilled completely, i.e. it carries no memory of past attempts. */
  full(): boolean {
    this.refill();
    return this.tokens >= this.rate.burst;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last) / 1000;
    this.last = t;
    this.tokens = Math.min(this.rate.burst, this.tokens + elapsed * this.rate.perSecond);
  }
}

/**
 * One token bucket per client address. Buckets that have refilled are forgotten once the map
 * grows past `sweepAt`, so many addresses cannot grow it without bound.
 */
export class ConnectionGate {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: ConnectRate,
    private readonly now: () => number = Date.now,
    private readonly sweepAt = 10_000,
  ) {}

  admit(address: string): boolean {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= this.sweepAt) this.sweep();
      bucket = new TokenBucket(this.rate, this.now);
      this.buckets.set(address, bucket);
    }
    return bucket.take();
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    for (const [address, bucket] of this.buckets) if (bucket.full()) this.buckets.delete(address);
  }
}

/**
 * At most one log line per key per interval. `note(key)` counts an event and, when a line is
 * due, returns how many events it covers (this one and those held back since the last line);
 * otherwise null.
 */
export class LogThrottle {
  private readonly state = new Map<string, { lastAt: number; held: number }>();

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  note(key: string): number | null {
    const t = this.now();
    const s = this.state.get(key);
    if (s && t - s.lastAt < this.intervalMs) {
      s.held++;
      return null;
    }
    const count = (s?.held ?? 0) + 1;
    if (!s && this.state.size >= this.maxKeys) this.prune(t);
    this.state.set(key, { lastAt: t, held: 0 });
    return count;
  }

  private prune(t: number): void {
    for (const [key, s] of this.state) if (t - s.lastAt >= this.intervalMs) this.state.delete(key);
    // Every key was logged within the interval: start over rather than grow.
    if (this.state.size >= this.maxKeys) this.state.clear();
  }
}

/** MQTT's remaining length is at most four 7-bit groups. */
const MAX_REMAINING_LENGTH = 268_435_455;

export type FrameVerdict =
  { ok: true } | { ok: false; reason: 'too-large'; declared: number } | { ok: false; reason: 'malformed' };

/**
 * Follows MQTT framing across chunks (a fixed-header byte, a 1-4 byte remaining length, the
 * body) and refuses as soon as a header declares a packet bigger than `maxBytes` — before the
 * body is buffered anywhere. Once it has refused, it stays refused.
 */
export class FrameScanner {
  private state: 'header' | 'length' | 'body' = 'header';
  private lengthBytes = 0;
  private remaining = 0;
  private multiplier = 1;
  private refused: FrameVerdict | null = null;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Uint8Array): FrameVerdict {
    if (this.refused) return this.refused;
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'header') {
        i++;
        this.state = 'length';
        this.lengthBytes = 0;
        this.remaining = 0;
        this.multiplier = 1;
      } else if (this.state === 'length') {
        const byte = chunk[i++]!;
        this.lengthBytes++;
        this.remaining += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        if (byte & 0x80) {
          if (this.lengthBytes === 4) return (this.refused = { ok: false, reason: 'malformed' });
          continue;
        }
        const total = 1 + this.lengthBytes + this.remaining;
        if (this.maxBytes > 0 && total > this.maxBytes)
          return (this.refused = { ok: false, reason: 'too-large', declared: total });
        this.state = this.remaining === 0 ? 'header' : 'body';
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'header';
      }
    }
    return { ok: true };
  }
}

/**
 * Puts a FrameScanner on the bytes aedes reads from `stream`. aedes pulls data with
 * `conn.read(null)` on 'readable' and hands each chunk to mqtt-packet's parser, which has no
 * size cap and would buffer a declared 256 MB body; so `read` is wrapped: a chunk whose header
 * declares an oversized (or malformed-length) packet is never returned — the stream is destroyed
 * instead and `onRefused` says why. Every byte aedes consumes passes through `read` exactly
 * once, in order, so the scanner sees the whole byte stream.
 */
export function guardPacketSize(
  stream: Duplex,
  maxBytes: number,
  onRefused: (verdict: Exclude<FrameVerdict, { ok: true }>) => void,
): void {
  if (maxBytes <= 0) return;
  const scanner = new FrameScanner(maxBytes);
  const read = stream.read.bind(stream);
  stream.read = (size?: number) => {
    const chunk = read(size) as Buffer | string | null;
    if (chunk === null || chunk.length === 0) return chunk;
    const verdict = scanner.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (verdict.ok) return chunk;
    stream.destroy();
    onRefused(verdict);
    return null;
  };
}

/**
 * The faults a proxy can inject, and the record each injection leaves. What each one does on
 * the wire is in link.ts (per connection) and proxy.ts (the listener).
 */

/**
 * - `reset`: both sides get a TCP RST (ECONNRESET), like a NAT box or a crashed peer.
 * - `drop`: both sides get a clean FIN: the connection just goes away.
 * - `blackhole`: nothing passes either way for a while; both sockets stay open. The classic
 *   half-dead link that only keep-alives detect.
 * - `delay`: latency (plus jitter) on every chunk, both ways, order kept.
 * - `refuse`: the proxy stops listening, so new connections get ECONNREFUSED: the broker is "down".
 */
export const FAULT_KINDS = ['reset', 'drop', 'blackhole', 'delay', 'refuse'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The kinds random mode chooses from: the ones that strike one connection at a moment. */
export const RANDOM_FAULT_KINDS = ['reset', 'drop', 'blackhole'] as const;
export type RandomFaultKind = (typeof RANDOM_FAULT_KINDS)[number];

export type Fault =
  | { kind: 'reset' }
  | { kind: 'drop' }
  /** Without durationMs: until the connection closes (or heal()). */
  | { kind: 'blackhole'; durationMs?: number }
  /** Without durationMs: from now on. */
  | { kind: 'delay'; delayMs: number; jitterMs?: number; durationMs?: number }
  /** Without durationMs: until resume(). */
  | { kind: 'refuse'; durationMs?: number };

/** Every live connection, one picked at random (seeded), or the connection with this id. */
export type FaultTarget = 'all' | 'one' | number;

/** Why a fault happened. */
export type FaultCause = 'random' | 'schedule' | 'manual';

export interface FaultEvent {
  kind: FaultKind;
  cause: FaultCause;
  /** Milliseconds since the proxy started. */
  atMs: number;
  /** The connections it struck (by id, in accept order from 1); empty for `refuse`. */
  links: number[];
  /** 'all' when it also applies to connections accepted later during its window. */
  scope: 'all' | 'link' | 'listener';
  durationMs?: number;
  delayMs?: number;
  jitterMs?: number;
  /** Random mode: the drawn wait before this fault, from the connection's start or last heal. */
  afterMs?: number;
}

/** Random mode: every connection gets a fault after an exponentially distributed wait. */
export interface RandomFaults {
  /** The mean of the wait, in ms (each wait is drawn anew). */
  meanMs: number;
  /** Relative weights of the kinds; default 1 each. */
  weights?: Partial<Record<RandomFaultKind, number>>;
  /** How long a random blackhole lasts; without it, until the connection closes. */
  blackholeMs?: number;
}

export type Latency = { delayMs: number; jitterMs: number };

export const NO_LATENCY: Latency = { delayMs: 0, jitterMs: 0 };

/**
 * "reset=3,drop=1,blackhole=1" → weights. Throws an Error naming the part that is wrong and
 * what is allowed, for the CLI to pass on.
 */
export function parseFaultWeights(text: string): Partial<Record<RandomFaultKind, number>> {
  const weights: Partial<Record<RandomFaultKind, number>> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, value, extra] = part.split('=').map((p) => p.trim());
    if (!RANDOM_FAULT_KINDS.includes(name as RandomFaultKind)) {
      throw new Error(
        `"${name}" is not a random fault: use ${RANDOM_FAULT_KINDS.join(', ')}, like reset=3,drop=1,blackhole=1`,
      );
    }
    const weight = Number(value);
    if (value === undefined || extra !== undefined || value === '' || !Number.isFinite(weight) || weight < 0) {
      throw new Error(`the weight in "${part}" must be a number of at least 0, like ${name}=2`);
    }
    weights[name as RandomFaultKind] = weight;
  }
  if (!Object.values(weights).some((w) => w > 0))
    throw new Error(`no fault has a weight above 0 in "${text}": give at least one, like reset=1`);
  return weights;
}

/** One line for a log: "blackhole for 3000 ms on connection 4 (random, after 812 ms)". */
export function describeFault(e: FaultEvent): string {
  const what =
    e.kind === 'delay' ? `delay ${e.delayMs} ms${e.jitterMs ? ` + up to ${e.jitterMs} ms jitter` : ''}` : e.kind;
  const span = e.durationMs !== undefined ? ` for ${e.durationMs} ms` : '';
  const where =
    e.scope === 'listener'
      ? ' (new connections refused)'
      : e.scope === 'all'
        ? ` on all connections${e.links.length ? ` (${e.links.join(', ')})` : ' (none live)'}`
        : ` on connection ${e.links[0]}`;
  const why = e.cause === 'random' ? ` (random, after ${e.afterMs} ms)` : ` (${e.cause})`;
  return `${what}${span}${where}${why}`;
}

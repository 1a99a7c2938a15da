/**
 * Whether a notification may be spoken: signed by the backend's key, and fresh. The best-known
 * fraud against payment speakers is the fake payment alert; a speaker that announced whatever
 * reached its topic would be worthless. Replays inside the freshness window are stopped by the
 * payment-id dedupe (stores/payments.ts); older ones by the window itself.
 *
 * Commands get the same checks (CommandGuard below): a `replay` says a payment in a payment's
 * words and `set-volume 0` silences the genuine ones, so whoever could publish a command could
 * fake or hide a payment.
 */
import {
  checkFreshness,
  COMMAND_FRESHNESS,
  FRESHNESS_DEFAULTS,
  verifyCommandWith,
  verifyNotificationWith,
  type Command,
  type CommandRefusal,
  type Notification,
  type RejectionReason,
  type VerifyingKey,
} from '../src/protocol/index.ts';
import type { Board, Clock } from './board.ts';

/**
 * No genuine clock reads earlier than this (2025-01-01, before this firmware was built): a board
 * clock before it has lost its time (a real-time clock without power boots in 1970).
 */
export const CLOCK_FLOOR_MS = Date.UTC(2025, 0, 1);

/**
 * Whether the board's wall clock can judge a notification's freshness: set since boot (from the
 * broker's signed time), or at least not before CLOCK_FLOOR_MS. A notification that fails
 * freshness on a clock that cannot is held until the clock is set, not refused (payments.ts).
 */
export function clockTrusted(clock: Pick<Clock, 'now' | 'synced'>): boolean {
  return clock.synced?.() === true || clock.now() >= CLOCK_FLOOR_MS;
}

export type TrustVerdict = { ok: true } | { ok: false; reason: RejectionReason; detail: string };

export interface TrustOptions {
  /**
   * The backend's public key from the device config, as the platform verifies with it
   * (nodeVerifyingKey on Node, webVerifyingKey in a browser); null only in --insecure mode.
   */
  publicKey: VerifyingKey | null;
  /** Accepted age of a notification (queued while offline), default 24 h. */
  maxAgeMs?: number;
  /** Accepted clock difference into the future, default 5 min. */
  maxSkewMs?: number;
}

export class Trust {
  constructor(private readonly opts: TrustOptions) {}

  /** The backend's public key (null when --insecure): firmware releases are checked with it too. */
  get publicKey(): VerifyingKey | null {
    return this.opts.publicKey;
  }

  /** True when signatures are not checked (--insecure: demos and tests only). */
  get insecure(): boolean {
    return this.opts.publicKey === null;
  }

  /** Signature (async: WebCrypto is), then freshness at `now`. */
  async check(n: Notification, now: number): Promise<TrustVerdict> {
    if (this.opts.publicKey) {
      const signed = await verifyNotificationWith(n, this.opts.publicKey);
      if (!signed.ok) return signed;
    }
    return this.fresh(n, now);
  }

  /** Freshness alone, for a notification whose signature has been checked already. */
  fresh(n: Notification, now: number): TrustVerdict {
    return checkFreshness(n.createdAt, now, {
      maxAgeMs: this.opts.maxAgeMs ?? FRESHNESS_DEFAULTS.maxAgeMs,
      maxSkewMs: this.opts.maxSkewMs ?? FRESHNESS_DEFAULTS.maxSkewMs,
    });
  }
}

export type CommandVerdict = { ok: true } | { ok: false; reason: CommandRefusal; detail: string };

/** NVS keys: one per remembered command id (its createdAt), and the floor below which ids may have been forgotten. */
const SEEN = 'commands.seen.';
const FORGOTTEN_UP_TO = 'commands.forgottenUpTo';

export interface CommandGuardOptions {
  /** The device's own id: a signed command names the device it is for. */
  deviceId: string;
  /** How many command ids to remember (default 256; each is forgotten anyway once it is too old to pass the freshness check). */
  remember?: number;
  maxAgeMs?: number;
  maxSkewMs?: number;
}

/**
 * Whether a command may run, on a speaker with a backend key: signed by the backend for this
 * device, fresh (10 min back, 5 min ahead), and never run before. Without a key (--insecure) it
 * lets every command through, as the speaker does with unsigned notifications.
 *
 * The ids of commands run are kept in NVS (board.nvs), so a captured command cannot be replayed
 * after a reboot either (an OTA restarts the speaker, and anyone who can pull the plug can too).
 * At most `remember` ids, and only while they could still pass the freshness check: older ones
 * are refused as expired whatever their id. If more than `remember` fresh commands arrive, the
 * oldest id is forgotten and its createdAt becomes a floor: a command that old or older is
 * refused (it could be the forgotten one), as the payment store does for payment ids.
 */
export class CommandGuard {
  /** id → createdAt, oldest arrival first. */
  private readonly seen = new Map<string, number>();
  private forgottenUpTo: number;

  constructor(
    private readonly trust: Trust,
    private readonly nvs: Board['nvs'],
    private readonly opts: CommandGuardOptions,
  ) {
    this.forgottenUpTo = nvs.get<number>(FORGOTTEN_UP_TO) ?? 0;
    const stored = nvs
      .keys(SEEN)
      .map((key) => [key.slice(SEEN.length), nvs.get<number>(key)] as const)
      .filter((e): e is readonly [string, number] => typeof e[1] === 'number')
      .sort((a, b) => a[1] - b[1]);
    for (const [id, createdAt] of stored) this.seen.set(id, createdAt);
  }

  private get window() {
    return {
      maxAgeMs: this.opts.maxAgeMs ?? COMMAND_FRESHNESS.maxAgeMs,
      maxSkewMs: this.opts.maxSkewMs ?? COMMAND_FRESHNESS.maxSkewMs,
    };
  }

  /**
   * Checks the command and, if it may run, records its id durably before resolving: a command
   * is let through at most once, even if two copies arrive together or the speaker dies while
   * running it. Resolves with why not otherwise; never throws for anything a sender controls.
   */
  async admit(c: Command, now: number): Promise<CommandVerdict> {
    const key = this.trust.publicKey;
    if (!key) return { ok: true };
    if (c.sig === undefined) {
      return refuse(
        'bad-signature',
        'the command is not signed ("sig" is missing): this speaker runs only commands signed with the backend key; send it with "npx payspeaker command" (or "ota") and --data pointing at the broker\'s data directory',
      );
    }
    if (c.device === undefined || c.createdAt === undefined) {
      const missing = c.device === undefined ? 'device' : 'createdAt';
      return refuse('bad-signature', `a signed command must carry "${missing}" (it is covered by the signature)`);
    }
    const signed = await verifyCommandWith(c, key);
    if (!signed.ok) return refuse('bad-signature', signed.detail);
    if (c.device !== this.opts.deviceId) {
      // parseCommand(payload, id) refuses this already; kept here so the guard stands on its own.
      return refuse(
        'bad-signature',
        `the command is signed for ${c.device}, not for this speaker (${this.opts.deviceId})`,
      );
    }
    const { maxAgeMs, maxSkewMs } = this.window;
    const fresh = checkFreshness(c.createdAt, now, {
      maxAgeMs,
      maxSkewMs,
      subject: { what: 'command', retry: 'send it again (a new id, the current time)' },
    });
    if (!fresh.ok) return fresh;
    if (this.seen.has(c.id)) {
      return refuse(
        'duplicate',
        `command ${c.id} was already run (created at ${this.seen.get(c.id)}): a command runs once, so this is a replay; send a new command with a new id`,
      );
    }
    if (c.createdAt <= this.forgottenUpTo) {
      return refuse(
        'duplicate',
        `command ${c.id} is no newer than the commands this speaker no longer remembers: it could be a replay; send it again (a new id, the current time)`,
      );
    }
    await this.remember(c.id, c.createdAt, now - maxAgeMs - maxSkewMs);
    return { ok: true };
  }

  /** Records an id (in memory at once, so a copy arriving meanwhile is refused) and resolves once it is durable. */
  private async remember(id: string, createdAt: number, tooOld: number): Promise<void> {
    this.seen.set(id, createdAt);
    const drop: string[] = [];
    let floor = this.forgottenUpTo;
    const limit = this.opts.remember ?? 256;
    for (const [old, at] of this.seen) {
      // Too old to pass the freshness check again (a clock going back aside): no need to remember.
      if (at < tooOld) drop.push(old);
    }
    for (const old of drop) this.seen.delete(old);
    while (this.seen.size > limit) {
      const [old, at] = this.seen.entries().next().value as [string, number];
      this.seen.delete(old);
      drop.push(old);
      floor = Math.max(floor, at);
    }
    const writes: Promise<void>[] = [];
    if (drop.length > 0) writes.push(this.nvs.delete(drop.map((old) => SEEN + old)));
    const values: Record<string, unknown> = { [SEEN + id]: createdAt };
    if (floor !== this.forgottenUpTo) {
      this.forgottenUpTo = floor;
      values[FORGOTTEN_UP_TO] = floor;
    }
    writes.push(this.nvs.set(values));
    await Promise.all(writes);
  }
}

function refuse(reason: CommandRefusal, detail: string): CommandVerdict {
  return { ok: false, reason, detail };
}

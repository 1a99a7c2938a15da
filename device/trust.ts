/**
 * Whether a notification may be spoken: signed by the backend's key, and fresh. The best-known
 * fraud against payment speakers is the fake payment alert; a speaker that announced whatever
 * reached its topic would be worthless. Replays inside the freshness window are stopped by the
 * payment-id dedupe (stores/payments.ts); older ones by the window itself.
 */
import type { KeyObject } from 'node:crypto';
import {
  checkFreshness,
  FRESHNESS_DEFAULTS,
  verifyNotification,
  type Notification,
  type RejectionReason,
} from '../src/protocol/index.ts';

export type TrustVerdict = { ok: true } | { ok: false; reason: RejectionReason; detail: string };

export interface TrustOptions {
  /** The backend's public key from the device config; null only in --insecure mode. */
  publicKey: KeyObject | null;
  /** Accepted age of a notification (queued while offline), default 24 h. */
  maxAgeMs?: number;
  /** Accepted clock difference into the future, default 5 min. */
  maxSkewMs?: number;
}

export class Trust {
  constructor(private readonly opts: TrustOptions) {}

  /** The backend's public key (null when --insecure): firmware releases are checked with it too. */
  get publicKey(): KeyObject | null {
    return this.opts.publicKey;
  }

  /** True when signatures are not checked (--insecure: demos and tests only). */
  get insecure(): boolean {
    return this.opts.publicKey === null;
  }

  check(n: Notification, now: number): TrustVerdict {
    if (this.opts.publicKey) {
      const signed = verifyNotification(n, this.opts.publicKey);
      if (!signed.ok) return signed;
    }
    return checkFreshness(n.createdAt, now, {
      maxAgeMs: this.opts.maxAgeMs ?? FRESHNESS_DEFAULTS.maxAgeMs,
      maxSkewMs: this.opts.maxSkewMs ?? FRESHNESS_DEFAULTS.maxSkewMs,
    });
  }
}

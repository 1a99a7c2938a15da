/**
 * Copies published and not yet PUBACKed by their device. While one is out, another copy of the
 * same payment would only queue behind it in aedes (MQTT QoS 1 already resends it when the
 * session comes back), and a slow device would collect an unbounded queue of copies: a retry
 * storm that grows the broker's memory until it dies. So a payment has at most one copy out at
 * a time and a device at most `max` payments. Kept per device, so that what one device does
 * never costs a walk over every other device's copies.
 */
export type TakeVerdict = 'ok' | 'already-out' | 'device-full';

export class InFlight {
  /** payment id → its device */
  private readonly deviceOf = new Map<string, string>();
  /** payment id → the attempt its copy out is, when the taker said: its PUBACK is for that copy. */
  private readonly attemptOf = new Map<string, number>();
  /** device → (payment id → when its copy went out) */
  private readonly byDevice = new Map<string, Map<string, number>>();

  constructor(
    private readonly max: number,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Records a copy about to go out, or says why not. A device not connected to this broker
   * is not tracked: no PUBACK can come, and its next session is a fresh start (see forget).
   * `attempt` is the copy's attempt number, handed back by release when its PUBACK comes.
   */
  take(id: string, device: string, now: number, connected: boolean, attempt?: number): TakeVerdict {
    if (!connected) return 'ok';
    const at = this.byDevice.get(device)?.get(id);
    if (at !== undefined && now - at < this.timeoutMs) return 'already-out';
    if (at !== undefined) this.release(id);
    if (this.isFull(device, now)) return 'device-full';
    this.deviceOf.set(id, device);
    if (attempt !== undefined) this.attemptOf.set(id, attempt);
    const copies = this.byDevice.get(device);
    if (copies) copies.set(id, now);
    else this.byDevice.set(device, new Map([[id, now]]));
    return 'ok';
  }

  /** True when `device` has `max` copies out that have not timed out (expired ones are dropped). */
  isFull(device: string, now: number): boolean {
    const copies = this.byDevice.get(device);
    if (!copies || copies.size < this.max) return false;
    for (const [id, at] of copies) if (now - at >= this.timeoutMs) this.release(id);
    return (this.byDevice.get(device)?.size ?? 0) >= this.max;
  }

  /** Devices that cannot take another copy now. */
  fullDevices(now: number): string[] {
    return [...this.byDevice.keys()].filter((device) => this.isFull(device, now));
  }

  /**
   * The copy of `id` is no longer out (PUBACKed, lost or not sent). Returns its attempt, if
   * known: a copy taken over after a timeout answers for the newer copy, which is what counts.
   */
  release(id: string): number | undefined {
    const device = this.deviceOf.get(id);
    if (device === undefined) return undefined;
    const attempt = this.attemptOf.get(id);
    this.deviceOf.delete(id);
    this.attemptOf.delete(id);
    const copies = this.byDevice.get(device)!;
    copies.delete(id);
    if (copies.size === 0) this.byDevice.delete(device);
    return attempt;
  }

  /** The device went away: what it did not PUBACK is re-sent by aedes or by the outbox when it is back. */
  forget(device: string): void {
    for (const id of this.byDevice.get(device)?.keys() ?? []) {
      this.deviceOf.delete(id);
      this.attemptOf.delete(id);
    }
    this.byDevice.delete(device);
  }
}

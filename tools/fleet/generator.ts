/**
 * The payment generator: a backend publishing notifications to the fleet over one MQTT
 * connection, QoS 1. At a fixed rate it follows a schedule (payment i is due at
 * start + i / rate) and publishes whatever is due every millisecond, catching up in a burst
 * after a stall rather than shifting the schedule (tally.ts says why). With `rate: 'max'` it
 * keeps `window` payments outstanding (published, not yet heard) for the run's duration.
 * Each payment goes to a device chosen uniformly at random (seeded), for a random amount.
 * Sequence numbers continue from the tally's base, so each load of a run has its own ids.
 */
import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { makeNotification, topics, type Channel } from '../../src/protocol/index.ts';
import { signNotification } from '../../src/protocol/signing-node.ts';
import type { Language } from '../../src/speech/index.ts';
import { preciseNow } from './clock.ts';
import { deviceId, paymentId } from './ids.ts';
import type { Tally } from './tally.ts';

export type Rate = number | 'max';

/** One load offered to the fleet. */
export interface Load {
  /** Payments per second, or 'max': keep `window` payments outstanding. */
  rate: Rate;
  durationMs: number;
  /** Outstanding payments with `rate: 'max'`. */
  window: number;
}

export interface GeneratorOptions extends Load {
  devices: number;
  prefix: string;
  runId: string;
  lang: Language;
  /** The backend's Ed25519 key; null sends unsigned notifications. */
  privateKey: KeyObject | null;
  seed: number;
}

/** What a merchant in each language is typically paid in, and through which app. */
const MONEY: Record<Language, { currency: string; channel: Channel }> = {
  'zh-CN': { currency: 'CNY', channel: 'wechat' },
  'en-US': { currency: 'USD', channel: 'generic' },
  'hi-IN': { currency: 'INR', channel: 'paytm' },
};

export class PaymentGenerator {
  private readonly rng;
  private readonly topicsByDevice: string[];
  private readonly ids: string[];
  private startedAt = 0;
  private finished = false;
  publishErrors = 0;
  lastError: string | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly client: MqttClient,
    private readonly tally: Tally,
    private readonly opts: GeneratorOptions,
  ) {
    this.rng = xoroshiro128plus(opts.seed);
    this.ids = Array.from({ length: opts.devices }, (_, i) => deviceId(opts.prefix, i));
    this.topicsByDevice = this.ids.map((id) => topics.notify(id));
  }

  /** Number of payments a fixed-rate run sends. */
  get planned(): number {
    return this.opts.rate === 'max' ? Infinity : Math.round((this.opts.rate * this.opts.durationMs) / 1000);
  }

  get startTime(): number {
    return this.startedAt;
  }

  /** Publishes until the schedule (or the duration, at max) is done. */
  async run(): Promise<void> {
    this.startedAt = preciseNow();
    if (this.opts.rate === 'max') await this.runWindowed();
    else await this.runScheduled(this.opts.rate);
    this.finished = true;
  }

  /** At `rate: 'max'`: call when payments were heard, so the window refills at once. */
  heard(): void {
    this.wake?.();
  }

  private async runScheduled(rate: number): Promise<void> {
    const total = this.planned;
    const interval = 1000 / rate;
    let seq = 0;
    while (seq < total) {
      const now = preciseNow();
      const due = Math.min(total, Math.floor((now - this.startedAt) / interval) + 1);
      for (; seq < due; seq++) this.publish(seq, this.startedAt + seq * interval);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  private async runWindowed(): Promise<void> {
    const end = this.startedAt + this.opts.durationMs;
    const timer = setTimeout(() => this.wake?.(), this.opts.durationMs);
    let seq = 0;
    while (preciseNow() < end) {
      while (this.tally.outstanding < this.opts.window && preciseNow() < end) {
        this.publish(seq, preciseNow());
        seq += 1;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    clearTimeout(timer);
  }

  private publish(seq: number, intendedAt: number): void {
    const device = uniformInt(this.rng, 0, this.opts.devices - 1);
    const amount = uniformInt(this.rng, 1, 9_999_999);
    const n = makeNotification({
      id: paymentId(this.opts.runId, this.tally.base + seq),
      device: this.ids[device]!,
      amount,
      ...MONEY[this.opts.lang],
      kind: 'payment',
      createdAt: Math.floor(intendedAt),
    });
    const payload = JSON.stringify(this.opts.privateKey ? signNotification(n, this.opts.privateKey) : n);
    this.tally.recordSent(seq, intendedAt, preciseNow());
    this.client.publish(this.topicsByDevice[device]!, payload, { qos: 1 }, (err) => {
      if (!err) return;
      this.publishErrors += 1;
      this.lastError = err.message;
    });
  }

  get done(): boolean {
    return this.finished;
  }
}

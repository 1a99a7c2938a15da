/**
 * The payment generator: a backend publishing notifications to the fleet over one MQTT
 * connection, QoS 1. At a fixed rate, or a scenario's phases of rates and ramps, it follows a
 * schedule (schedule.ts: payment i is due at start + i / rate for a fixed rate): it sleeps
 * until the next payment is due (pacer.ts: to within tens of microseconds, where setTimeout
 * would be 1-2 ms late) and publishes whatever is due, catching up in a burst after a stall
 * rather than shifting the schedule (tally.ts says why). With `rate: 'max'` it keeps `window`
 * payments outstanding (published, not yet heard) for the run's duration. Each payment goes to
 * a device chosen uniformly at random (seeded), with an amount and channel from the mix (mix.ts).
 * Sequence numbers continue from the tally's base, so each load of a run has its own ids.
 */
import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { makeNotification, topics } from '../../src/protocol/index.ts';
import { signNotification } from '../../src/protocol/signing-node.ts';
import { preciseNow } from './clock.ts';
import { deviceId, paymentId } from './ids.ts';
import { Pacer } from './pacer.ts';
import type { PaymentMix } from './mix.ts';
import { constantSchedule, type RateSchedule } from './schedule.ts';
import type { Tally } from './tally.ts';

export type Rate = number | 'max';

/**
 * The generator sleeps at least this long between publishing rounds (ms). A wake costs about
 * 0.1 ms of CPU (the pacer's thread and its message, 0.07 ms for a setTimeout), so above
 * 2,000/s a few payments share one, each at most this late, and the coordinator's core, shared
 * with the broker and the workers, is not spent on waking.
 */
const MIN_WAKE_GAP_MS = 0.5;

/** One load offered to the fleet. */
export interface Load {
  /** Payments per second, or 'max': keep `window` payments outstanding. */
  rate: Rate;
  durationMs: number;
  /** Outstanding payments with `rate: 'max'`. */
  window: number;
  /** A scenario's phases (rates and ramps) instead of `rate`; `durationMs` is then their sum. */
  schedule?: RateSchedule;
  /** The scenario's name, for the report. */
  name?: string;
}

export interface GeneratorOptions extends Load {
  devices: number;
  prefix: string;
  runId: string;
  mix: PaymentMix;
  /** The backend's Ed25519 key; null sends unsigned notifications. */
  privateKey: KeyObject | null;
  seed: number;
}

export class PaymentGenerator {
  private readonly rng;
  private readonly topicsByDevice: string[];
  private readonly ids: string[];
  private startedAt = 0;
  private finished = false;
  publishErrors = 0;
  lastError: string | null = null;
  private wake: (() => void) | null = null;
  /** Which device each payment (by this load's sequence number) went to: a scenario's report asks per group. */
  private deviceOf = new Int32Array(1024);

  constructor(
    private readonly client: MqttClient,
    private readonly tally: Tally,
    private readonly opts: GeneratorOptions,
  ) {
    this.rng = xoroshiro128plus(opts.seed);
    this.ids = Array.from({ length: opts.devices }, (_, i) => deviceId(opts.prefix, i));
    this.topicsByDevice = this.ids.map((id) => topics.notify(id));
  }

  /** Number of payments a fixed-rate or scheduled run sends. */
  get planned(): number {
    return this.opts.rate === 'max' ? Infinity : this.schedule().total;
  }

  /** The device payment `seq` of this load went to. */
  deviceOfSeq(seq: number): number {
    return seq < this.deviceOf.length ? this.deviceOf[seq]! : -1;
  }

  private schedule(): RateSchedule {
    return this.opts.schedule ?? constantSchedule(this.opts.rate as number, this.opts.durationMs);
  }

  get startTime(): number {
    return this.startedAt;
  }

  /** Publishes until the schedule (or the duration, at max) is done. */
  async run(): Promise<void> {
    if (this.opts.rate === 'max') {
      this.startedAt = preciseNow();
      await this.runWindowed();
    } else {
      const pacer = new Pacer();
      try {
        await pacer.sleep(0); // its thread is up before the schedule starts
        this.startedAt = preciseNow();
        await this.runScheduled(this.schedule(), pacer);
      } finally {
        await pacer.close();
      }
    }
    this.finished = true;
  }

  /** At `rate: 'max'`: call when payments were heard, so the window refills at once. */
  heard(): void {
    this.wake?.();
  }

  private async runScheduled(schedule: RateSchedule, pacer: Pacer): Promise<void> {
    const total = schedule.total;
    // Until the schedule's end, not its last payment: a quiet last phase still takes its time.
    const end = this.startedAt + schedule.durationMs;
    let seq = 0;
    for (;;) {
      const now = preciseNow();
      const due = schedule.dueBy(now - this.startedAt);
      for (; seq < due; seq++) this.publish(seq, this.startedAt + schedule.dueAt(seq));
      if (seq >= total && now >= end) return;
      const next = seq < total ? this.startedAt + schedule.dueAt(seq) : end;
      // Through the event loop every time (acks, heard batches), however far behind.
      await pacer.sleep(Math.max(next - preciseNow(), MIN_WAKE_GAP_MS));
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
    const { device, amount, currency, channel } = this.opts.mix.draw(this.rng);
    if (seq >= this.deviceOf.length) {
      const bigger = new Int32Array(Math.max(seq + 1, this.deviceOf.length * 2));
      bigger.set(this.deviceOf);
      this.deviceOf = bigger;
    }
    this.deviceOf[seq] = device;
    const n = makeNotification({
      id: paymentId(this.opts.runId, this.tally.base + seq),
      device: this.ids[device]!,
      amount,
      currency,
      channel,
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

/**
 * The coordinator's ledger of one run: for every payment (by sequence number) when it was meant
 * to be created, when it was published, and how many times a speaker had it ready to play.
 * From it come lost, duplicates and the latency histograms.
 *
 * Latency is measured from the payment's *intended* creation time — the fixed-rate schedule
 * start + seq / rate — not from when the generator got round to publishing it. A generator
 * that falls behind (a GC pause, a busy core) would otherwise quietly stop offering load while
 * the system is slow and leave exactly those waits out of the figures: coordinated omission.
 * With `--rate max` there is no schedule: intended = published.
 */
import { newHistogram, type Histogram } from './histogram.ts';
import type { HeardBatch } from './messages.ts';

/** A Float64Array that grows as needed. */
class Column {
  data = new Float64Array(1024);
  set(i: number, v: number): void {
    if (i >= this.data.length) {
      const bigger = new Float64Array(Math.max(i + 1, this.data.length * 2));
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[i] = v;
  }
}

export class Tally {
  /**
   * Payment i of this tally is sequence number base + i of the run: each load of a run has its
   * own tally, and payment ids stay unique across them.
   */
  constructor(readonly base = 0) {}

  private readonly intended = new Column();
  private readonly published = new Column();
  /** Times each payment was heard: 0, 1, or more (a duplicate). */
  private readonly heardCount = new Column();
  /** When each payment was first heard (epoch ms). */
  private readonly firstHeard = new Column();
  /** From the intended creation: the figure that counts. */
  readonly corrected: Histogram = newHistogram();
  /** From the actual publish, for comparison: what a naive tool would report. */
  readonly uncorrected: Histogram = newHistogram();
  /**
   * The generator's lag behind its schedule, published - intended, per payment sent. Part of
   * every corrected latency: when it is high, the coordinator's core (not the fleet) was busy.
   */
  readonly lag: Histogram = newHistogram();
  sent = 0;
  heard = 0;
  summarized = 0;
  duplicates = 0;
  /** Heard with a sequence number never sent, or without a time: a bug, counted rather than ignored. */
  unknown = 0;
  /** When the last payment was first heard (epoch ms), for the delivered rate. */
  lastHeardAt = 0;
  /** The lowest sequence number not yet heard (everything below it was heard at least once). */
  private oldestUnheard = 0;

  recordSent(seq: number, intendedAt: number, publishedAt: number): void {
    this.intended.set(seq, intendedAt);
    this.published.set(seq, publishedAt);
    this.lag.recordValue(Math.max(0, Math.round((publishedAt - intendedAt) * 1000)));
    this.heardCount.set(seq, 0);
    this.sent = Math.max(this.sent, seq + 1);
  }

  /** A payment heard at `at` (epoch ms); `seq` is this tally's own index (run sequence number - base). */
  recordHeard(seq: number, at: number, inSummary: boolean): void {
    if (seq >= this.sent || !Number.isFinite(at)) {
      this.unknown += 1;
      return;
    }
    const times = ++this.heardCount.data[seq]!;
    if (times > 1) {
      this.duplicates += 1;
      return;
    }
    this.heard += 1;
    this.firstHeard.set(seq, at);
    if (inSummary) this.summarized += 1;
    this.lastHeardAt = Math.max(this.lastHeardAt, at);
    this.corrected.recordValue(Math.max(0, Math.round((at - this.intended.data[seq]!) * 1000)));
    this.uncorrected.recordValue(Math.max(0, Math.round((at - this.published.data[seq]!) * 1000)));
  }

  /** Payments first heard between `from` and `to` (epoch ms): a load's rate while it is offered, without the drain. */
  heardBetween(from: number, to: number): number {
    let n = 0;
    for (let s = 0; s < this.sent; s++) {
      const at = this.firstHeard.data[s]!;
      if (this.heardCount.data[s]! > 0 && at >= from && at <= to) n += 1;
    }
    return n;
  }

  /** One payment's times (epoch ms; firstHeard NaN while unheard) and how often it was heard. */
  entry(seq: number): { intended: number; published: number; firstHeard: number; times: number } {
    const times = this.heardCount.data[seq] ?? 0;
    return {
      intended: this.intended.data[seq]!,
      published: this.published.data[seq]!,
      firstHeard: times > 0 ? this.firstHeard.data[seq]! : NaN,
      times,
    };
  }

  /** Sent and not heard (yet). */
  get outstanding(): number {
    return this.sent - this.heard;
  }

  /** Payments meant to be created before `before` (epoch ms) and still not heard. */
  unheardBefore(before: number): number {
    while (this.oldestUnheard < this.sent && this.heardCount.data[this.oldestUnheard]! > 0) this.oldestUnheard += 1;
    let n = 0;
    for (let s = this.oldestUnheard; s < this.sent && this.intended.data[s]! < before; s++)
      if (this.heardCount.data[s] === 0) n += 1;
    return n;
  }
}

/** Routes what the workers heard to the tally of the load each payment belongs to. */
export function recordBatch(tallies: readonly Tally[], batch: HeardBatch): void {
  for (let i = 0; i < batch.seq.length; i++) {
    const seq = batch.seq[i]!;
    let t = tallies.length - 1;
    while (t > 0 && tallies[t]!.base > seq) t -= 1;
    const tally = tallies[t];
    if (!tally) continue;
    tally.recordHeard(seq - tally.base, batch.at[i]!, batch.inSummary[i] === 1);
  }
}

/**
 * A worker's side of the tally: what its speakers (or raw clients) heard, sent to the
 * coordinator in batches every few milliseconds rather than one IPC message per payment.
 */
import type { FromWorker, WorkerCounters } from './messages.ts';
import { paymentSeq } from './ids.ts';

/** Short: at `--rate max` the generator refills its window only when it hears of payments heard. */
const FLUSH_MS = 5;
const MAX_REASONS = 5;

export class HeardReporter {
  private seq: number[] = [];
  private at: number[] = [];
  private inSummary: number[] = [];
  private readonly counters: WorkerCounters = { redelivered: 0, rejected: 0, stray: 0, buttons: 0, reasons: [] };
  private countersChanged = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly runId: string,
    private readonly send: (m: FromWorker) => void,
  ) {
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
  }

  heard(paymentId: string, at: number, inSummary = false): void {
    const seq = paymentSeq(this.runId, paymentId);
    if (seq < 0) return this.count('stray');
    this.seq.push(seq);
    this.at.push(at);
    this.inSummary.push(inSummary ? 1 : 0);
  }

  count(what: 'redelivered' | 'rejected' | 'stray' | 'buttons', reason?: string): void {
    this.counters[what] += 1;
    if (reason && this.counters.reasons.length < MAX_REASONS) this.counters.reasons.push(reason);
    this.countersChanged = true;
  }

  flush(): void {
    if (this.seq.length > 0) {
      this.send({
        t: 'heard',
        seq: Float64Array.from(this.seq),
        at: Float64Array.from(this.at),
        inSummary: Uint8Array.from(this.inSummary),
      });
      this.seq = [];
      this.at = [];
      this.inSummary = [];
    }
    if (this.countersChanged) {
      this.send({ t: 'counters', ...this.counters, reasons: [...this.counters.reasons] });
      this.countersChanged = false;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

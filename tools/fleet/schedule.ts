/**
 * When each payment of a load is due: a list of phases, each at a constant rate or a linear
 * ramp (5 → 50/s over 60 s). Payment `seq` is due when the cumulative number of payments the
 * phases have asked for reaches `seq`, so payment 0 is due at the start and a ramp's payments
 * get closer together as it climbs. The generator publishes what is due and measures latency
 * from the due time (tally.ts: coordinated omission), whatever shape the load has.
 */

export interface RatePhase {
  name: string;
  durationMs: number;
  /** Payments per second at the phase's start and end: equal for a constant rate. */
  from: number;
  to: number;
}

interface Placed extends RatePhase {
  startMs: number;
  /** Payments asked for before the phase starts (a real number). */
  before: number;
  /** Payments the phase asks for. */
  count: number;
}

export class RateSchedule {
  private readonly placed: Placed[] = [];
  /** Payments the whole schedule sends. */
  readonly total: number;
  readonly durationMs: number;

  constructor(phases: readonly RatePhase[]) {
    let startMs = 0;
    let before = 0;
    for (const p of phases) {
      const count = ((p.from + p.to) / 2) * (p.durationMs / 1000);
      this.placed.push({ ...p, startMs, before, count });
      startMs += p.durationMs;
      before += count;
    }
    this.durationMs = startMs;
    this.total = Math.round(before);
  }

  get phases(): readonly (RatePhase & { startMs: number })[] {
    return this.placed;
  }

  /** Payments asked for in the first `elapsedMs` (a real number). */
  cumulative(elapsedMs: number): number {
    for (const p of this.placed) {
      if (elapsedMs >= p.startMs + p.durationMs) continue;
      const t = Math.max(0, elapsedMs - p.startMs) / 1000;
      const slope = (p.to - p.from) / (p.durationMs / 1000);
      return p.before + p.from * t + (slope * t * t) / 2;
    }
    return this.total;
  }

  /** How many payments are due `elapsedMs` after the start (payment 0 is due at once). */
  dueBy(elapsedMs: number): number {
    return Math.min(this.total, Math.floor(this.cumulative(elapsedMs) + 1e-9) + 1);
  }

  /** When payment `seq` is due, in ms from the start: the inverse of cumulative(). */
  dueAt(seq: number): number {
    const p = this.phaseOfSeq(seq);
    const s = seq - p.before;
    const a = p.from;
    const b = (p.to - p.from) / (p.durationMs / 1000);
    // Solve a·t + b·t²/2 = s for t (seconds into the phase); b = 0 is the constant rate.
    const t = Math.abs(b) < 1e-12 ? s / a : (-a + Math.sqrt(Math.max(0, a * a + 2 * b * s))) / b;
    return p.startMs + Math.min(p.durationMs, Math.max(0, t * 1000));
  }

  /** The index of the phase payment `seq` falls in. */
  phaseIndexOfSeq(seq: number): number {
    return this.placed.indexOf(this.phaseOfSeq(seq));
  }

  private phaseOfSeq(seq: number): Placed {
    for (const p of this.placed) if (p.count > 0 && seq < p.before + p.count - 1e-9) return p;
    return [...this.placed].reverse().find((p) => p.count > 0) ?? this.placed[0]!;
  }
}

/** A fixed rate for a duration, as `--rate N --duration D` asks: one constant phase. */
export function constantSchedule(rate: number, durationMs: number): RateSchedule {
  return new RateSchedule([{ name: 'load', durationMs, from: rate, to: rate }]);
}

/**
 * Seeded randomness for the fault proxy (pure-rand's xoroshiro128+), so a seed replays the
 * same faults. Every consumer — each connection, the schedule — draws from its own stream,
 * forked in a fixed order: connection 3's faults depend only on the seed and on being the
 * third connection, not on how its draws interleave with other connections' in time.
 */
import { randomInt } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** Seeds are 32-bit: xoroshiro128plus keeps `seed | 0`, so larger numbers would collide. */
export const MAX_SEED = 2 ** 32 - 1;

/** A fresh seed when the caller gave none; reported so the run can be repeated. */
export function randomSeed(): number {
  return randomInt(MAX_SEED);
}

export class FaultRandom {
  private constructor(private readonly rng: JumpableRandomGenerator) {}

  static fromSeed(seed: number): FaultRandom {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)
      throw new RangeError(`seed must be a whole number from 0 to ${MAX_SEED}, got ${seed}`);
    return new FaultRandom(xoroshiro128plus(seed));
  }

  /** An independent stream: a copy of this one, after which this one jumps 2^64 draws ahead. */
  fork(): FaultRandom {
    const child = this.rng.clone();
    this.rng.jump();
    return new FaultRandom(child);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return uniformFloat64(this.rng);
  }

  /** A whole number in [0, n). */
  below(n: number): number {
    return Math.min(n - 1, Math.floor(this.float() * n));
  }

  /** Exponentially distributed with the given mean: the waiting time of a memoryless fault. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** A key chosen with probability proportional to its weight (weights > 0, at least one). */
  pick<K extends string>(weights: Readonly<Partial<Record<K, number>>>): K {
    const entries = Object.entries(weights).filter((e): e is [K, number] => typeof e[1] === 'number' && e[1] > 0);
    if (entries.length === 0) throw new RangeError('pick needs at least one positive weight');
    let r = this.float() * entries.reduce((sum, [, w]) => sum + w, 0);
    for (const [key, weight] of entries) {
      r -= weight;
      if (r < 0) return key;
    }
    return entries.at(-1)![0];
  }
}

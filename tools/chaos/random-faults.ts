/**
 * Random mode: each connection gets a fault after an exponentially distributed wait (faults
 * as a memoryless process, like failures in the field), the kind drawn by weight. All draws
 * come from the connection's own seeded stream, so a seed replays the same sequence.
 */
import { RANDOM_FAULT_KINDS, type Fault, type RandomFaultKind, type RandomFaults } from './faults.ts';
import type { Link } from './link.ts';

const EVEN_WEIGHTS = Object.fromEntries(RANDOM_FAULT_KINDS.map((k) => [k, 1])) as Record<RandomFaultKind, number>;

/** Throws a RangeError saying what is wrong with a random-mode configuration. */
export function checkRandomFaults(config: RandomFaults): void {
  if (!(config.meanMs > 0) || !Number.isFinite(config.meanMs))
    throw new RangeError(`random.meanMs must be a number of milliseconds above 0, got ${config.meanMs}`);
  const weights = Object.entries(config.weights ?? EVEN_WEIGHTS);
  const bad = weights.find(
    ([k, w]) => !RANDOM_FAULT_KINDS.includes(k as RandomFaultKind) || typeof w !== 'number' || !(w >= 0),
  );
  if (bad)
    throw new RangeError(
      `random.weights: ${bad[0]}=${bad[1]} is not allowed: the kinds are ${RANDOM_FAULT_KINDS.join(', ')}, each with a weight of at least 0`,
    );
  if (!weights.some(([, w]) => (w ?? 0) > 0))
    throw new RangeError('random.weights: at least one kind needs a weight above 0');
  if (config.blackholeMs !== undefined && !(config.blackholeMs > 0))
    throw new RangeError(
      `random.blackholeMs must be above 0 (or left out: until the connection closes), got ${config.blackholeMs}`,
    );
}

/** Plans the faults of one connection, one after another, until one of them ends it. */
export function armRandomFaults(
  link: Link,
  config: RandomFaults,
  strike: (link: Link, fault: Fault, afterMs: number) => void,
): void {
  const weights = config.weights ?? EVEN_WEIGHTS;
  const next = () => {
    const afterMs = Math.round(link.random.exponential(config.meanMs));
    const kind = link.random.pick(weights);
    link.after(afterMs, () => {
      strike(link, kind === 'blackhole' ? { kind, durationMs: config.blackholeMs } : { kind }, afterMs);
      // The next wait starts when a bounded blackhole heals; reset and drop end the connection.
      if (kind === 'blackhole' && config.blackholeMs !== undefined) link.after(config.blackholeMs, next);
    });
  };
  next();
}

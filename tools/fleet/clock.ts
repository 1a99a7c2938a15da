/**
 * One clock for every process of a fleet run: Unix epoch milliseconds with microsecond
 * resolution. `performance.timeOrigin` is the wall clock read once when the process (or
 * thread) started; `performance.now()` runs on the monotonic clock from there. So readings
 * taken in the generator and in a worker process can be subtracted, and a wall-clock step
 * during the run does not show up as a latency.
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

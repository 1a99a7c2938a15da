/**
 * Runs async tasks one at a time, in call order. Used where overlapping work would be wrong:
 * a speaker must never talk over itself, and the eSpeak wasm worker is not re-entrant.
 */
export interface SerialQueue {
  run<T>(task: () => Promise<T> | T): Promise<T>;
  /** Resolves once everything queued so far has settled (never rejects). */
  idle(): Promise<void>;
}

export function createSerialQueue(): SerialQueue {
  let tail: Promise<void> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T> | T): Promise<T> {
      const result = tail.then(() => task());
      // A failed task must not block the ones behind it.
      tail = result.then(
        () => undefined,
        () => undefined,
      );
      return result;
    },
    idle: () => tail,
  };
}

/**
 * A set of listeners for the browser drivers' events (the page's redraws, the transcript).
 * The firmware is the caller (led.set, a clip starting), so a listener that throws must not
 * break it: the error is rethrown on its own microtask, where the browser's console (or the
 * test runner) reports it, and the firmware carries on.
 */
export interface Listeners<T> {
  /** Adds a listener; returns the function that removes it. */
  add(listener: (value: T) => void): () => void;
  emit(value: T): void;
}

export function createListeners<T>(): Listeners<T> {
  const listeners = new Set<(value: T) => void>();
  return {
    add(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    emit(value) {
      for (const listener of [...listeners]) {
        try {
          listener(value);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    },
  };
}

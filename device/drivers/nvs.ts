/**
 * Non-volatile storage, the ESP-IDF way: a small key-value store for what must survive a
 * reboot (settings, recent payment ids, the ledger). Reads come from memory; `set` stages
 * values at once and resolves when they are durable.
 *
 * This file holds the driver interface plus what every driver shares: the JSON-safety check
 * and the write coalescing. A driver supplies only `persist` (a file, flash, nothing).
 */

export interface Nvs {
  /**
   * The value stored under `key`, synchronously, from memory. Values are frozen copies: change
   * one by `set`ting a new value, so memory and storage never drift apart.
   */
  get<T>(key: string): T | undefined;
  /** Stages values and resolves once they are durable. Calls made while a write is in flight are coalesced into the next single write. */
  set(values: Record<string, unknown>): Promise<void>;
  /** Waits for pending writes; afterwards `set` rejects and `get` still answers. */
  close(): Promise<void>;
}

/** What a driver must do: make the whole store durable, all or nothing. */
export type Persist = (values: Readonly<Record<string, unknown>>) => Promise<void>;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The shared core of every driver. One write at a time; every `set` made before a write takes
 * its snapshot rides on that write, so a burst of 100 sets costs one or two writes, not 100.
 */
export class StagedNvs implements Nvs {
  /** A Map, not an object: keys such as `__proto__` are plain keys here. */
  private readonly values = new Map<string, unknown>();
  private waiters: Waiter[] = [];
  private writing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly name: string,
    private readonly persist: Persist,
    initial: Iterable<[string, unknown]> = [],
  ) {
    for (const [key, value] of initial) this.values.set(key, toJsonSafe(value, key));
  }

  get<T>(key: string): T | undefined {
    return this.values.get(key) as T | undefined;
  }

  set(values: Record<string, unknown>): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`nvs: ${this.name} is closed; set() after close() is a bug in the caller`));
    let staged: [string, unknown][];
    try {
      // Check everything before staging anything: a bad value must not half-apply a set.
      staged = Object.keys(values).map((key) => [checkKey(key), toJsonSafe(values[key], key)]);
    } catch (err) {
      return Promise.reject(err);
    }
    for (const [key, value] of staged) this.values.set(key, value);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.writing ??= this.drain();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
  }

  /** Writes until no caller is waiting. Runs at most once at a time. */
  private async drain(): Promise<void> {
    // Yield once so every set() of the current synchronous burst joins the first write.
    await Promise.resolve();
    while (this.waiters.length > 0) {
      // Snapshot and batch are taken together: each waiter's values are in the write it awaits.
      const batch = this.waiters;
      this.waiters = [];
      const snapshot = this.snapshot();
      try {
        await this.persist(snapshot);
        for (const w of batch) w.resolve();
      } catch (err) {
        // Those callers hear of it; the values stay staged, so the next set() writes them again.
        for (const w of batch) w.reject(err);
      }
    }
    this.writing = null;
  }

  private snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of this.values) setOwn(out, key, value);
    return out;
  }
}

function checkKey(key: string): string {
  if (key.length === 0) throw new TypeError('nvs: an empty key cannot be stored; use a name such as "settings.volume"');
  return key;
}

/**
 * A deep, frozen copy of `value` if it survives JSON unchanged; otherwise a TypeError naming
 * where the bad part is. JSON.stringify would silently drop `undefined` and functions, turn
 * NaN into null and a Date into a string, so the value read back after a reboot would differ.
 */
export function toJsonSafe(value: unknown, path: string, seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      throw unsafe(path, String(value), 'use a finite number or null');
    case 'object':
      if (value === null) return null;
      return copyContainer(value, path, seen);
    case 'bigint':
      throw unsafe(path, 'a BigInt', 'store it as a string, e.g. value.toString()');
    default:
      throw unsafe(path, typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`, 'store null or leave the key out');
  }
}

function copyContainer(value: object, path: string, seen: Set<object>): unknown {
  if (seen.has(value)) throw unsafe(path, 'a circular reference', 'store a tree, not a graph');
  seen.add(value);
  try {
    if (Array.isArray(value)) return Object.freeze(copyArray(value, path, seen));
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'a class instance';
      throw unsafe(path, `a ${kind}`, 'store plain objects, arrays, strings, finite numbers, booleans or null');
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) setOwn(out, key, toJsonSafe((value as Record<string, unknown>)[key], `${path}.${key}`, seen));
    return Object.freeze(out);
  } finally {
    seen.delete(value); // the same object twice side by side is fine; only a cycle is not
  }
}

function copyArray(value: unknown[], path: string, seen: Set<object>): unknown[] {
  const out = new Array<unknown>(value.length);
  // An index loop, not map(): map skips holes, which JSON would turn into null.
  for (let i = 0; i < value.length; i++) out[i] = toJsonSafe(value[i], `${path}[${i}]`, seen);
  return out;
}

/**
 * `out[key] = value`, except that a `__proto__` key (legal in JSON, e.g. from a hand-edited
 * file) becomes an own property, as JSON.parse makes it, instead of replacing the prototype.
 */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function unsafe(path: string, what: string, hint: string): TypeError {
  return new TypeError(`nvs: cannot store ${what} at "${path}": values must be JSON-safe; ${hint}`);
}

/**
 * Non-volatile storage, the ESP-IDF way: a small key-value store for what must survive a
 * reboot (settings, recent payment ids, the ledger). Reads come from memory; `set` and
 * `delete` stage changes at once and resolve when they are durable.
 *
 * This file holds the driver interface plus what every driver shares: the JSON-safety check,
 * the write coalescing and the bookkeeping of what changed since the last durable write.
 * A driver supplies only `persist` (a journal file, flash, nothing).
 */

/**
 * The store as application code sees it.
 *
 * Atomic groups: every `set` and `delete` made in one synchronous turn lands in ONE write, and a
 * write is all or nothing across a crash. While a write is in flight, everything staged until
 * the next write takes its changes joins that next write. So
 * `nvs.delete(['inbox.7']); nvs.set({ 'handled.7': ack })` moves a payment atomically: after a
 * crash it is in exactly one of the two places. (Turns may share a write; one turn is never
 * split across two. A call rejected for a bad argument stages nothing, so check its promise.)
 */
export interface Nvs {
  /**
   * The value stored under `key`, synchronously, from memory. Values are frozen copies: change
   * one by `set`ting a new value, so memory and storage never drift apart.
   */
  get<T>(key: string): T | undefined;
  /**
   * The stored keys (those starting with `prefix`, if given), synchronously, from memory, in the
   * order they were first set; a key deleted and set again moves to the end. After a reboot the
   * order is the driver's (the file driver keeps it, except that JSON puts keys that look like
   * array indices, such as "12", first).
   */
  keys(prefix?: string): string[];
  /** Stages values and resolves once they are durable. Calls made while a write is in flight are coalesced into the next single write. */
  set(values: Record<string, unknown>): Promise<void>;
  /** Removes keys and resolves once that is durable. Deleting a key that is not there is fine. Coalesced like `set`. */
  delete(keys: string[]): Promise<void>;
  /** Waits for pending writes; afterwards `set` and `delete` reject and `get` still answers. */
  close(): Promise<void>;
}

/** What a driver is asked to make durable: the changes since its last successful write. */
export interface NvsChanges {
  /** Keys set, with their newest values (frozen, JSON-safe). */
  readonly set: ReadonlyMap<string, unknown>;
  /** Keys deleted. A key is in `set` or in `deleted`, never in both: its last change wins. */
  readonly deleted: ReadonlySet<string>;
  /**
   * The whole store exactly as these changes leave it, for a driver that rewrites everything
   * (a compaction). Exact even if more changes are staged meanwhile; callable until the
   * `persist` that received it settles.
   */
  snapshot(): Map<string, unknown>;
}

/**
 * What a driver must do: make the changes durable, all or nothing, and resolve; or reject, and
 * then the core stages them again so the next write carries them (merged with newer changes).
 */
export type Persist = (changes: NvsChanges) => Promise<void>;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Marks "no value": a staged delete, or a key that did not exist before a write. */
const ABSENT: unique symbol = Symbol('absent');
/** A key's change (its new value, or ABSENT for a delete) or former value (ABSENT: it had none). */
type Slot = unknown;

/**
 * The shared core of every driver. One write at a time; every change made before a write takes
 * its changes rides on that write, so a burst of 100 sets costs one or two writes, not 100.
 */
export class StagedNvs implements Nvs {
  /** A Map, not an object: keys such as `__proto__` are plain keys here. */
  private readonly values = new Map<string, unknown>();
  /** Changes no write has taken yet (or whose write failed): key → new value or ABSENT. */
  private staged = new Map<string, Slot>();
  /**
   * While a write is in flight: each key changed since it took its changes → the value the key
   * had then (or ABSENT). Undoing these on the live values gives that write's snapshot.
   */
  private undo: Map<string, Slot> | null = null;
  private waiters: Waiter[] = [];
  private writing: Promise<void> | null = null;
  private closed = false;
  private released: Promise<void> | null = null;

  /** `release` frees what the driver holds (an open file) once the last write is done, at the first close(). */
  constructor(
    private readonly name: string,
    private readonly persist: Persist,
    initial: Iterable<[string, unknown]> = [],
    private readonly release: () => Promise<void> = async () => undefined,
  ) {
    for (const [key, value] of initial) this.values.set(key, toJsonSafe(value, key));
  }

  get<T>(key: string): T | undefined {
    return this.values.get(key) as T | undefined;
  }

  keys(prefix = ''): string[] {
    const out: string[] = [];
    for (const key of this.values.keys()) if (key.startsWith(prefix)) out.push(key);
    return out;
  }

  set(values: Record<string, unknown>): Promise<void> {
    return this.change('set', () =>
      Object.keys(values).map((key): [string, Slot] => [checkKey(key), toJsonSafe(values[key], key)]),
    );
  }

  delete(keys: string[]): Promise<void> {
    return this.change('delete', () => {
      if (!Array.isArray(keys))
        throw new TypeError(`nvs: delete() takes an array of keys, got ${typeof keys}; wrap a single key as [key]`);
      return keys.map((key): [string, Slot] => [checkKey(key), ABSENT]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    await (this.released ??= this.release());
  }

  /** Checks every change before staging any (a bad one must not half-apply a call), stages them, and waits for their write. */
  private change(call: string, check: () => [string, Slot][]): Promise<void> {
    if (this.closed)
      return Promise.reject(new Error(`nvs: ${this.name} is closed; ${call}() after close() is a bug in the caller`));
    let changes: [string, Slot][];
    try {
      changes = check();
    } catch (err) {
      return Promise.reject(err);
    }
    for (const [key, slot] of changes) this.stage(key, slot);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private stage(key: string, slot: Slot): void {
    if (this.undo && !this.undo.has(key)) this.undo.set(key, this.values.has(key) ? this.values.get(key) : ABSENT);
    this.staged.set(key, slot);
    if (slot === ABSENT) this.values.delete(key);
    else this.values.set(key, slot);
  }

  /** Writes until no caller is waiting. Runs at most once at a time. */
  private async drain(): Promise<void> {
    // Yield once so every change of the current synchronous turn joins the first write.
    await Promise.resolve();
    while (this.waiters.length > 0) {
      // Changes and batch are taken together: each waiter's changes are in the write it awaits.
      const batch = this.waiters;
      const taken = this.staged;
      this.waiters = [];
      this.staged = new Map();
      const undo = (this.undo = new Map());
      try {
        if (taken.size > 0) await this.persist(this.changesOf(taken, undo));
        for (const w of batch) w.resolve();
      } catch (err) {
        // Those callers hear of it; the changes stay in memory and ride on the next write.
        this.restage(taken);
        for (const w of batch) w.reject(err);
      } finally {
        this.undo = null;
      }
    }
    this.writing = null;
  }

  /** Puts a failed write's changes back under what was staged since: the newer change of a key wins. */
  private restage(failed: Map<string, Slot>): void {
    const merged = new Map(failed);
    for (const [key, slot] of this.staged) merged.set(key, slot);
    this.staged = merged;
  }

  private changesOf(taken: Map<string, Slot>, undo: Map<string, Slot>): NvsChanges {
    const set = new Map<string, unknown>();
    const deleted = new Set<string>();
    for (const [key, slot] of taken) {
      if (slot === ABSENT) deleted.add(key);
      else set.set(key, slot);
    }
    return { set, deleted, snapshot: () => this.snapshotBefore(undo) };
  }

  /** The values as they were before the changes recorded in `undo`, i.e. as the in-flight write leaves them. */
  private snapshotBefore(undo: Map<string, Slot>): Map<string, unknown> {
    if (this.undo !== undo)
      throw new Error(
        `nvs: ${this.name}: snapshot() called after its write settled; a driver must take it inside persist()`,
      );
    const out = new Map(this.values);
    for (const [key, slot] of undo) {
      if (slot === ABSENT) out.delete(key);
      else out.set(key, slot);
    }
    return out;
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string')
    throw new TypeError(
      `nvs: keys are strings, got ${typeof key} ${String(key)}; use a name such as "settings.volume"`,
    );
  if (key.length === 0) throw new TypeError('nvs: "" is not a key; use a name such as "settings.volume"');
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
      throw unsafe(
        path,
        typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`,
        'store null or leave the key out',
      );
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
    for (const key of Object.keys(value))
      setOwn(out, key, toJsonSafe((value as Record<string, unknown>)[key], `${path}.${key}`, seen));
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
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

function unsafe(path: string, what: string, hint: string): TypeError {
  return new TypeError(`nvs: cannot store ${what} at "${path}": values must be JSON-safe; ${hint}`);
}

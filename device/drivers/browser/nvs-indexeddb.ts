/**
 * NVS in IndexedDB, for the browser board: one database per device ("payspeaker-nvs-<id>"), one
 * object store, one record per key. The shared core (../nvs.ts) keeps the values in memory and
 * coalesces writes; this driver only makes each write durable.
 *
 * - A write is ONE readwrite transaction holding all its puts and deletes, so it lands all or
 *   nothing: IndexedDB rolls a transaction back whole if it aborts (quota, a closed database,
 *   the tab killed before commit). `persist` resolves on `complete`, which with
 *   `durability: 'strict'` means flushed to disk: a payment acked after a crash is still
 *   recorded, as on the file driver (fdatasync).
 * - A record is `{ k: key, n: order, v: JSON text }`. JSON text, not a structured clone, so a value
 *   reads back exactly as the file driver would give it (the core only accepts JSON-safe values).
 *   `n` keeps the keys' first-set order across a reboot (an object store iterates by key): a key
 *   keeps its number while it exists, and gets a new, last one when set again after a delete
 *   made durable. A delete and set of one key coalesced into one write keep its old place, as
 *   the file driver's journal replay does.
 * - Single owner, like the file: two tabs running the same device id would both write. If
 *   another tab deletes or upgrades the database, this connection closes (so it does not block
 *   that tab) and later writes fail, each saying so.
 */
import type { Logger } from '../../../src/log.ts';
import { StagedNvs, type Nvs, type NvsChanges } from '../nvs.ts';

const STORE = 'values';
const VERSION = 1;

/** One key's record. */
interface NvsRecord {
  k: string;
  /** First-set order. */
  n: number;
  /** The value as JSON text. */
  v: string;
}

/** The database that holds a device's NVS. */
export function nvsDatabaseName(device: string): string {
  return `payspeaker-nvs-${device}`;
}

export interface IndexedDbNvsOptions {
  /** Told about records that do not read back (edited in devtools) and are skipped. */
  log?: Pick<Logger, 'warn'>;
}

/**
 * Opens (creating if needed) the database `name` and loads every key. Rejects, saying what to do,
 * when IndexedDB is missing or refuses (a private window that disallows it, a blocked upgrade).
 */
export async function openIndexedDbNvs(
  name: string,
  indexedDB: IDBFactory | undefined = globalThis.indexedDB,
  opts: IndexedDbNvsOptions = {},
): Promise<Nvs> {
  if (!indexedDB)
    throw new Error(
      `nvs: IndexedDB is not available here, so "${name}" cannot be opened; run the browser speaker in a browser page (not a worker without IndexedDB), or pass an IDBFactory`,
    );
  const db = await openDatabase(indexedDB, name);
  let records: NvsRecord[];
  try {
    records = await loadAll(db);
  } catch (err) {
    db.close();
    throw failure(name, 'could not be read', err);
  }
  const store = new IndexedDbStore(db, name, records);
  return new StagedNvs(
    `IndexedDB NVS "${name}"`,
    (changes) => store.persist(changes),
    store.initialValues(records, opts.log),
    async () => db.close(),
  );
}

function openDatabase(indexedDB: IDBFactory, name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    let request: IDBOpenDBRequest;
    try {
      request = indexedDB.open(name, VERSION);
    } catch (err) {
      reject(failure(name, 'could not be opened', err));
      return;
    }
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'k' });
    request.onsuccess = () => {
      const db = request.result;
      // Another tab deleting or upgrading this database waits for us to close: do so at once.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    // No `onblocked`: only an upgrade can be blocked, and tabs running this driver close on `versionchange`.
    request.onerror = () => reject(failure(name, 'could not be opened', request.error));
  });
}

function loadAll(db: IDBDatabase): Promise<NvsRecord[]> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, 'readonly');
    const request = tx.objectStore(STORE).getAll();
    tx.oncomplete = () => resolve(request.result as NvsRecord[]);
    tx.onabort = () => reject(tx.error ?? request.error);
  });
}

/** The write side: one transaction per write, and the key order numbers that are durable. */
class IndexedDbStore {
  /** Each durable key's order number. */
  private readonly order = new Map<string, number>();
  private next = 0;

  constructor(
    private readonly db: IDBDatabase,
    private readonly name: string,
    records: NvsRecord[],
  ) {
    for (const r of records) if (typeof r.n === 'number') this.next = Math.max(this.next, r.n + 1);
  }

  /** The loaded values in first-set order; unreadable records skipped (and reported). */
  initialValues(records: NvsRecord[], log: IndexedDbNvsOptions['log']): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const r of [...records].sort((a, b) => a.n - b.n)) {
      try {
        if (typeof r.k !== 'string' || typeof r.n !== 'number' || typeof r.v !== 'string')
          throw new Error('expected { k: string, n: number, v: JSON text }');
        out.push([r.k, JSON.parse(r.v)]);
        this.order.set(r.k, r.n);
      } catch (err) {
        log?.warn(
          { database: this.name, key: r.k, err },
          `nvs: skipped the unreadable record ${JSON.stringify(r.k)} in IndexedDB "${this.name}" (${(err as Error).message}); the next write of that key replaces it`,
        );
      }
    }
    return out;
  }

  persist(changes: NvsChanges): Promise<void> {
    return new Promise((resolve, reject) => {
      const numbered = new Map<string, number>();
      let tx: IDBTransaction | undefined;
      try {
        tx = this.db.transaction(STORE, 'readwrite', { durability: 'strict' });
        const store = tx.objectStore(STORE);
        for (const key of changes.deleted) store.delete(key);
        for (const [key, value] of changes.set) {
          const n = this.order.get(key) ?? this.next++;
          numbered.set(key, n);
          store.put({ k: key, n, v: JSON.stringify(value) } satisfies NvsRecord);
        }
      } catch (err) {
        // A put or delete that throws (or a connection already closed): the requests made so far
        // must not commit without the rest, so the transaction is aborted, not left to complete.
        try {
          tx?.abort();
        } catch {
          // not started, or already finished by the error: nothing was written either way
        }
        reject(failure(this.name, 'was not saved', err));
        return;
      }
      tx.oncomplete = () => {
        for (const key of changes.deleted) this.order.delete(key);
        for (const [key, n] of numbered) this.order.set(key, n);
        resolve();
      };
      // A failed request aborts the transaction (nothing is written); `abort` follows every `error`.
      tx.onabort = () => reject(failure(this.name, 'was not saved', tx.error));
      tx.commit?.(); // nothing more will be asked of it: do not wait for the next task to commit
    });
  }
}

/** An error naming the database, the browser's reason and what to do about it. */
function failure(name: string, what: string, cause: unknown): Error {
  const err = hasName(cause) ? cause : null;
  const reason = err ? `${err.name}: ${err.message || 'no details'}` : 'the transaction was aborted';
  const advice =
    err?.name === 'QuotaExceededError'
      ? "the browser's storage for this site is full: free disk space or clear this site's data"
      : err?.name === 'InvalidStateError'
        ? 'the database was closed (another tab deleted or upgraded it?): reload the page'
        : 'reload the page; if it persists, check the browser allows storage for this site';
  const kept = what === 'was not saved' ? '; the change is kept in memory and retried with the next write' : '';
  return new Error(`nvs: IndexedDB database "${name}" ${what} (${reason}); ${advice}${kept}`, { cause });
}

/** An Error or a DOMException (not an Error subclass in every runtime or fake). */
function hasName(x: unknown): x is { name: string; message: string } {
  return typeof x === 'object' && x !== null && typeof (x as { name?: unknown }).name === 'string';
}

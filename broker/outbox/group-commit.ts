/**
 * Group commit: every write asked for during one turn of the event loop goes into a single
 * SQLite transaction, flushed on the next turn. With `synchronous = FULL` each commit costs an
 * fsync; sharing it lets the outbox accept thousands of payments a second and still answer
 * each one only after it is on disk.
 *
 * Each write runs in its own savepoint, so one that fails (a constraint another process won)
 * fails alone. The transaction never stays open across turns: another connection to the same
 * file in this process (the registry) would otherwise wait on a lock only this turn's end
 * could release.
 */
import type Database from 'better-sqlite3';

interface Pending {
  op: () => void;
  resolve?: () => void;
  reject?: (err: Error) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly commit: Database.Transaction<(batch: Pending[]) => Map<Pending, Error>>;

  /** Reports a failed commit, or a failed write nobody waits for. */
  onError: (err: Error) => void = () => {};

  constructor(
    db: Database.Database,
    /** Called after every successful commit (the outbox announces changes from here). */
    private readonly afterCommit: () => void = () => {},
  ) {
    const single = db.transaction((op: () => void) => op()); // nested: a SAVEPOINT
    this.commit = db.transaction((batch: Pending[]) => {
      const failed = new Map<Pending, Error>();
      for (const p of batch) {
        try {
          single(p.op);
        } catch (err) {
          failed.set(p, err as Error);
        }
      }
      return failed;
    });
  }

  /** Queues a write; resolves once it is committed, rejects if it or the commit failed. */
  write(op: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => this.push({ op, resolve, reject }));
  }

  /** Queues a write nobody waits for. */
  enqueue(op: () => void): void {
    this.push({ op });
  }

  /** Commits whatever is queued, now. */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let failed: Map<Pending, Error>;
    try {
      // IMMEDIATE: the write lock is taken at BEGIN, where SQLite waits for it (busy_timeout). A
      // deferred transaction whose first statement reads (an ack looks the payment up) would
      // take it only when upgrading to write, and SQLite answers that upgrade SQLITE_BUSY at
      // once, without waiting, while another connection (a CLI command, a cluster broker) writes.
      failed = this.commit.immediate(batch);
    } catch (err) {
      for (const p of batch) p.reject?.(err as Error);
      this.onError(err as Error);
      return;
    }
    for (const p of batch) {
      const err = failed.get(p);
      if (!err) p.resolve?.();
      else if (p.reject) p.reject(err);
      else this.onError(err);
    }
    this.afterCommit();
  }

  private push(p: Pending): void {
    this.queue.push(p);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }
}

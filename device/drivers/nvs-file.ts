/**
 * NVS in files, log-structured like ESP-IDF's NVS, for the laptop board (and a Raspberry Pi's
 * SD card). A write appends what changed instead of rewriting the whole store, so a payment
 * costs one small append and one fdatasync however many keys are stored. Single owner: one
 * process per store.
 *
 * Two files:
 * - `FILE`, the snapshot: `{ "format": 1, "values": { "<key>": <JSON value>, ... } }`. Replaced
 *   atomically (temp file in the same directory, fdatasync, rename, fsync the directory), and
 *   only by a compaction. It may not exist yet: a new store starts as an empty journal.
 * - `FILE.log`, the journal: one line per write, `{"s":{"<key>":<value>,...},"d":["<key>",...]}`,
 *   a tab, the CRC-32 of that JSON in hex, and a newline: the keys set and deleted by that write. Appended and fdatasynced,
 *   nothing else; the directory is fsynced once per boot, at the first append.
 *
 * The store is the snapshot with every journal line applied in order. Sets and deletes are
 * absolute (no "add 1"), so replaying a line that is already in the snapshot changes nothing.
 *
 * Compaction: when the journal outgrows max(64 KiB, the snapshot's size), the write that pushed
 * it over also writes the whole store as a new snapshot, then truncates the journal and
 * fdatasyncs it. A crash between the two leaves the new snapshot and the old journal, whose
 * replay ends in the very state the snapshot holds. The snapshot-size bound keeps the cost of a
 * compaction under that of the appends since the last one: at most twice the bytes of appends.
 *
 * After a crash:
 * - A last journal line without its newline, or unreadable, is a write cut short: it was never
 *   acknowledged, so it is ignored (logged at debug) and cut off.
 * - An unreadable line (not JSON, or its CRC does not match) with more lines after it is corruption (a disk, a hand edit): the journal
 *   is copied to `FILE.log.corrupt-<timestamp>` for a human, the store is the snapshot plus the
 *   lines before the bad one (a state that really was, never a mix of writes), the journal is
 *   cut there, and a warning says so.
 * - An unreadable snapshot is moved to `FILE.corrupt-<timestamp>`; the journal, meaningless
 *   without its base, is moved to `FILE.log.corrupt-<timestamp>`; the store starts empty.
 * The device never refuses to boot over its own storage.
 *
 * This file is the store (its write side and its loading and recovery); the journal's line
 * format is nvs-journal.ts, the durable file operations nvs-fs.ts.
 */
import { copyFile, mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '../../src/log.ts';
import { StagedNvs, type Nvs, type NvsChanges } from './nvs.ts';
import { applyEntry, encodeLine, isRecord, scanJournal, type JournalScan } from './nvs-journal.ts';
import { errCode, readIfThere, syncDir, writeAtomic, writeError } from './nvs-fs.ts';

/** Bump when the file shape changes; a file of another format is set aside, not misread. */
export const NVS_FORMAT = 1;

/** The journal may grow to this (or to the snapshot's size, if larger) before a compaction. */
export const JOURNAL_LIMIT_BYTES = 64 * 1024;

export interface FileNvsOptions {
  /** Told once if a file was unreadable and set aside, and if a compaction failed. */
  log?: Logger;
  /** For the `.corrupt-<timestamp>` name. Default Date.now. */
  now?: () => number;
  /** Called after each durable write, for tests and benchmarks; `bytes` includes a compaction's snapshot. */
  onWrite?: (write: { bytes: number; ms: number; compacted: boolean }) => void;
  /** Compact when the journal exceeds this many bytes. Default max(JOURNAL_LIMIT_BYTES, the snapshot's size); 0 compacts on every write. */
  compactAtBytes?: number;
}

export async function openFileNvs(file: string, opts: FileNvsOptions = {}): Promise<Nvs> {
  const target = path.resolve(file);
  const log = opts.log ?? silentLogger;
  await mkdir(path.dirname(target), { recursive: true });
  await removeStaleTemps(target, log);
  const loaded = await load(target, log, opts.now ?? Date.now);
  const store = new JournaledStore(target, loaded, log, opts);
  await store.cutTail().catch(() => undefined); // failing here, it is tried again before the next append
  return new StagedNvs(
    target,
    (changes) => store.persist(changes),
    loaded.values,
    () => store.closeJournal(),
  );
}

/** What `load` found on disk. */
interface Loaded {
  values: Map<string, unknown>;
  snapshotBytes: number;
  /** Bytes of whole, readable journal lines: the journal is cut to this before the next append. */
  journalBytes: number;
  /** The journal holds more than `journalBytes` (a torn or corrupt tail). */
  tailToCut: boolean;
}

/** The file pair's write side: appends, compactions, and the byte counts they are based on. */
class JournaledStore {
  private readonly journal: string;
  private snapshotBytes: number;
  /** Length of the journal's trusted prefix. */
  private journalBytes: number;
  /**
   * Whether this process has fsynced the directory since opening the journal. Once per boot, not
   * only when creating it: a journal created just before a crash may have a name not yet durable.
   */
  private nameDurable = false;
  /** Set when the journal may hold bytes past `journalBytes` (a failed append, a torn line): cut before appending. */
  private tailToCut: boolean;
  /** The journal, open for appending from the first write until close (or a failed append). */
  private handle: FileHandle | null = null;
  private compactionFailing = false;
  private tempSeq = 0;

  constructor(
    private readonly target: string,
    loaded: Loaded,
    private readonly log: Logger,
    private readonly opts: FileNvsOptions,
  ) {
    this.journal = journalOf(target);
    this.snapshotBytes = loaded.snapshotBytes;
    this.journalBytes = loaded.journalBytes;
    this.tailToCut = loaded.tailToCut;
  }

  async persist(changes: NvsChanges): Promise<void> {
    const started = performance.now();
    const line = encodeLine(changes);
    await this.append(line);
    // The changes are durable now; a compaction only tidies up, so its failure fails no caller.
    const compactedBytes = this.journalBytes > this.compactAt() ? await this.compact(changes) : 0;
    const bytes = Buffer.byteLength(line) + compactedBytes;
    this.opts.onWrite?.({ bytes, ms: performance.now() - started, compacted: compactedBytes > 0 });
  }

  /** Cuts the journal back to its trusted prefix, if it may hold more. Fine if it does not exist. */
  async cutTail(): Promise<void> {
    if (!this.tailToCut) return;
    let fh;
    try {
      fh = await open(this.journal, 'r+');
      await fh.truncate(this.journalBytes);
      await fh.datasync();
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw err;
    } finally {
      await fh?.close();
    }
    this.tailToCut = false;
  }

  async closeJournal(): Promise<void> {
    const fh = this.handle;
    this.handle = null;
    await fh?.close().catch(() => undefined);
  }

  private compactAt(): number {
    return this.opts.compactAtBytes ?? Math.max(JOURNAL_LIMIT_BYTES, this.snapshotBytes);
  }

  private async append(line: string): Promise<void> {
    try {
      await this.cutTail();
      const fh = await this.journalHandle();
      await fh.writeFile(line, 'utf8'); // O_APPEND: at the end, wherever a cut left it
      await fh.datasync();
      this.journalBytes += Buffer.byteLength(line);
    } catch (err) {
      this.tailToCut = true; // part of the line may be there: it must not precede the next one
      await this.closeJournal(); // and the next append opens the file afresh
      throw writeError(this.journal, err);
    }
  }

  /** The journal, opened (or created) once for appending, its name made durable. */
  private async journalHandle(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    const fh = await open(this.journal, 'a', 0o644);
    if (!this.nameDurable) {
      await syncDir(path.dirname(this.journal)).catch(async (err: unknown) => {
        await fh.close();
        throw err;
      });
    }
    this.nameDurable = true;
    this.handle = fh;
    return fh;
  }

  /** Writes the whole store as the new snapshot and empties the journal. Returns the snapshot's bytes, 0 if it failed. */
  private async compact(changes: NvsChanges): Promise<number> {
    const data = JSON.stringify({ format: NVS_FORMAT, values: Object.fromEntries(changes.snapshot()) });
    try {
      await writeAtomic(this.target, data, `${this.target}.tmp-${process.pid}-${++this.tempSeq}`);
    } catch (err) {
      if (!this.compactionFailing)
        this.log.warn(
          { file: this.target, err },
          `nvs: compaction failed (${(err as Error).message}); nothing is lost, the journal grows until a later write compacts it`,
        );
      this.compactionFailing = true;
      return 0;
    }
    this.compactionFailing = false;
    this.snapshotBytes = Buffer.byteLength(data);
    // The snapshot holds every journal line now, so the whole journal is a tail to cut. If the
    // cut fails it is tried again before the next append; until then a replay is harmless.
    this.journalBytes = 0;
    this.tailToCut = true;
    await this.cutTail().catch(() => undefined);
    return this.snapshotBytes;
  }
}

function journalOf(target: string): string {
  return `${target}.log`;
}

/** A crash between writing a temp file and renaming it leaves the temp behind: remove it. */
async function removeStaleTemps(target: string, log: Logger): Promise<void> {
  const prefix = `${path.basename(target)}.tmp-`;
  const names = await readdir(path.dirname(target));
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    await unlink(path.join(path.dirname(target), name)).catch(() => undefined);
    log.debug({ file: name }, 'nvs: removed a temp file left by an interrupted write');
  }
}

async function load(target: string, log: Logger, now: () => number): Promise<Loaded> {
  const journal = journalOf(target);
  const snapshotData = await readIfThere(target);
  const journalData = await readIfThere(journal);
  const snapshot = snapshotData === null ? [] : parseSnapshot(snapshotData.toString('utf8'));
  if (typeof snapshot === 'string') return startEmpty(target, snapshot, journalData !== null, log, now);
  const values = new Map(snapshot);
  const scan = scanJournal(journalData ?? Buffer.alloc(0));
  for (const entry of scan.entries) applyEntry(values, entry);
  if (scan.dropped) await reportDropped(journal, scan, log, now);
  return {
    values,
    snapshotBytes: snapshotData?.length ?? 0,
    journalBytes: scan.goodBytes,
    tailToCut: scan.dropped !== null,
  };
}

/** An unreadable snapshot: keep it (and the journal that built on it) for a human, start empty. */
async function startEmpty(
  target: string,
  reason: string,
  hasJournal: boolean,
  log: Logger,
  now: () => number,
): Promise<Loaded> {
  const aside = await setAside(target, now);
  const journalAside = hasJournal ? await setAside(journalOf(target), now) : null;
  const where = aside ? `moved it to ${aside}` : 'could not move it aside (it will be overwritten)';
  const journalNote = journalAside ? `, moved its journal to ${journalAside}` : '';
  log.warn(
    { file: target, movedTo: aside, journalMovedTo: journalAside, reason },
    `nvs: ${target} was unreadable (${reason}); ${where}${journalNote} and started empty`,
  );
  // A journal that could not be moved must not be replayed over the empty store: cut it to nothing.
  return { values: new Map(), snapshotBytes: 0, journalBytes: 0, tailToCut: hasJournal && !journalAside };
}

/** Renames `file` to `file.corrupt-<timestamp>`; the new name, or null if that failed. */
async function setAside(file: string, now: () => number): Promise<string | null> {
  const aside = corruptName(file, now);
  return rename(file, aside).then(
    () => aside,
    () => null,
  );
}

function corruptName(file: string, now: () => number): string {
  return `${file}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
}

/** A torn last line is routine after a crash (debug); a bad line with lines after it is not (warn, and a copy). */
async function reportDropped(journal: string, scan: JournalScan, log: Logger, now: () => number): Promise<void> {
  const { line, reason, torn } = scan.dropped!;
  if (torn) {
    log.debug(
      { file: journal, line, reason },
      `nvs: ignored the last line of ${journal}, a write cut short by a crash (${reason}); it is cut off`,
    );
    return;
  }
  const copy = corruptName(journal, now);
  const copied = await copyFile(journal, copy).then(
    () => true,
    () => false,
  );
  const where = copied ? `copied the journal to ${copy}` : 'could not copy the journal aside';
  log.warn(
    { file: journal, copiedTo: copied ? copy : null, line, reason },
    `nvs: line ${line} of ${journal} is unreadable (${reason}) and more lines follow it; ${where}, kept the snapshot and the ${line - 1} line(s) before it, and dropped the rest`,
  );
}

/** The stored entries, or why the text is not an NVS file of our format. */
function parseSnapshot(text: string): [string, unknown][] | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!isRecord(doc) || !isRecord(doc.values)) return 'not an NVS file: expected {"format", "values"}';
  if (doc.format !== NVS_FORMAT)
    return `format ${JSON.stringify(doc.format)}, this firmware reads format ${NVS_FORMAT}`;
  return Object.entries(doc.values);
}

/**
 * The NVS journal's line format, split out of nvs-file.ts (where the design comment describes
 * the file pair, compaction and crash recovery): encoding one write as a line with its CRC-32,
 * and reading lines back up to the first that is cut short or unreadable. Pure: no file access.
 */
import CRC32 from 'crc-32';
import type { NvsChanges } from './nvs.ts';

/**
 * One journal line: the keys set (an object, as in the snapshot) and the keys deleted, then a
 * tab and the CRC-32 of that JSON. JSON never holds a raw tab, so the tab can only be ours; the
 * CRC catches damage that still parses as JSON (a flipped digit in an amount).
 */
export function encodeLine(changes: NvsChanges): string {
  const json = JSON.stringify({ s: Object.fromEntries(changes.set), d: [...changes.deleted] });
  return `${json}\t${crcOf(json)}\n`;
}

export function crcOf(text: string): string {
  return (CRC32.str(text) >>> 0).toString(16).padStart(8, '0');
}

export interface JournalEntry {
  set: [string, unknown][];
  deleted: string[];
}

export interface JournalScan {
  entries: JournalEntry[];
  /** Bytes of the whole, readable lines at the start. */
  goodBytes: number;
  /** The first line not applied (1-based), why, and whether it is the last one (a torn append). */
  dropped: { line: number; reason: string; torn: boolean } | null;
}

/** Reads journal lines up to the first that is cut short or unreadable. */
export function scanJournal(bytes: Buffer): JournalScan {
  const entries: JournalEntry[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const end = bytes.indexOf(0x0a, pos);
    // A line without its newline was still being appended: never acknowledged, whatever it holds.
    const entry = end === -1 ? 'no newline: the append was cut short' : parseLine(bytes.toString('utf8', pos, end));
    if (typeof entry === 'string') {
      const torn = end === -1 || end + 1 === bytes.length;
      return { entries, goodBytes: pos, dropped: { line: entries.length + 1, reason: entry, torn } };
    }
    entries.push(entry);
    pos = end + 1;
  }
  return { entries, goodBytes: pos, dropped: null };
}

/** One journal line's changes, or why it is not one. */
export function parseLine(line: string): JournalEntry | string {
  // Lines written before the CRC (firmware 0.1.0) have no tab: read them as they are.
  const tab = line.lastIndexOf('\t');
  const text = tab === -1 ? line : line.slice(0, tab);
  if (tab !== -1 && crcOf(text) !== line.slice(tab + 1)) {
    return `CRC mismatch: the line says ${line.slice(tab + 1)}, its contents give ${crcOf(text)}`;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!isRecord(doc) || !isRecord(doc.s) || !Array.isArray(doc.d) || !doc.d.every((k) => typeof k === 'string')) {
    return 'not a journal line: expected {"s": {...}, "d": [...]}';
  }
  return { set: Object.entries(doc.s), deleted: doc.d as string[] };
}

export function applyEntry(values: Map<string, unknown>, entry: JournalEntry): void {
  for (const key of entry.deleted) values.delete(key);
  for (const [key, value] of entry.set) values.set(key, value);
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

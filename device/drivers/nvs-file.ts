/**
 * NVS in one JSON file, for the laptop board (and a Raspberry Pi's SD card). Every write is
 * atomic — temp file in the same directory, fsync, rename over the target, fsync the
 * directory — so after a crash or power cut a reader finds the old or the new content, never
 * a mix. Single owner: one process per file.
 *
 * File shape: { "format": 1, "values": { "<key>": <JSON value>, ... } }
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger, type Logger } from '../../src/log.ts';
import { StagedNvs, type Nvs } from './nvs.ts';

/** Bump when the file shape changes; a file of another format is set aside, not misread. */
export const NVS_FORMAT = 1;

export interface FileNvsOptions {
  /** Told once if the file was unreadable and set aside. */
  log?: Logger;
  /** For the `.corrupt-<timestamp>` name. Default Date.now. */
  now?: () => number;
  /** Called after each durable write, for tests and benchmarks. */
  onWrite?: (write: { bytes: number; ms: number }) => void;
}

export async function openFileNvs(file: string, opts: FileNvsOptions = {}): Promise<Nvs> {
  const target = path.resolve(file);
  const log = opts.log ?? silentLogger;
  await mkdir(path.dirname(target), { recursive: true });
  await removeStaleTemps(target, log);
  const initial = await load(target, log, opts.now ?? Date.now);
  let seq = 0;
  return new StagedNvs(target, async (values) => {
    const started = performance.now();
    const data = JSON.stringify({ format: NVS_FORMAT, values });
    await writeAtomic(target, data, `${target}.tmp-${process.pid}-${++seq}`);
    opts.onWrite?.({ bytes: Buffer.byteLength(data), ms: performance.now() - started });
  }, initial);
}

async function writeAtomic(target: string, data: string, tmp: string): Promise<void> {
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.datasync(); // the bytes are on disk before the name points at them
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    await syncDir(path.dirname(target)); // ...and the rename itself survives a power cut
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const reason = (err as Error).message;
    throw new Error(`nvs: could not write ${target}: ${reason}. The values stay in memory and the next set() tries again; check free space and permissions.`, { cause: err });
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    // Windows cannot open a directory, and some filesystems refuse fsync on one: the rename
    // has still happened; only its durability across a power cut is then up to the OS.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES'].includes(errCode(err))) throw err;
  } finally {
    await fh?.close();
  }
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

async function load(target: string, log: Logger, now: () => number): Promise<[string, unknown][]> {
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    if (errCode(err) === 'ENOENT') return []; // first boot
    throw new Error(`nvs: cannot read ${target}: ${(err as Error).message}; check that it is a readable file`, { cause: err });
  }
  const parsed = parse(text);
  if (Array.isArray(parsed)) return parsed;
  // Never crash the device over its own storage: keep the bad file for a human, start empty.
  const aside = `${target}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
  const moved = await rename(target, aside).then(() => true, () => false);
  const where = moved ? `moved it to ${aside}` : 'could not move it aside (it will be overwritten)';
  log.warn({ file: target, movedTo: moved ? aside : null, reason: parsed }, `nvs: ${target} was unreadable (${parsed}); ${where} and started empty`);
  return [];
}

/** The stored entries, or why the text is not an NVS file of our format. */
function parse(text: string): [string, unknown][] | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!isRecord(doc) || !isRecord(doc.values)) return 'not an NVS file: expected {"format", "values"}';
  if (doc.format !== NVS_FORMAT) return `format ${JSON.stringify(doc.format)}, this firmware reads format ${NVS_FORMAT}`;
  const values = doc.values;
  return Object.keys(values).map((key) => [key, values[key]]);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? '';
}

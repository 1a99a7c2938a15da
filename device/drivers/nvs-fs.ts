/**
 * The durable file operations under NVS in files, split out of nvs-file.ts (where the design
 * comment says why each fsync is there): an atomic replace (temp file, fdatasync, rename, fsync
 * the directory), a directory fsync, reading a file that may not exist yet, and the error texts.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export async function writeAtomic(target: string, data: string, tmp: string): Promise<void> {
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
    throw writeError(target, err);
  }
}

export function writeError(file: string, err: unknown): Error {
  const reason = (err as Error).message;
  return new Error(
    `nvs: could not write ${file}: ${reason}. The values stay in memory and the next write tries again; check free space and permissions.`,
    { cause: err },
  );
}

export async function syncDir(dir: string): Promise<void> {
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

/** The file's bytes, or null if there is none yet (first boot). */
export async function readIfThere(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null;
    throw new Error(`nvs: cannot read ${file}: ${(err as Error).message}; check that it is a readable file`, {
      cause: err,
    });
  }
}

export function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? '';
}

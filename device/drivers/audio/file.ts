/** Writes each announcement as its own WAV: the fallback when no sound device answers. */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { durationMs, type Pcm } from '../../../src/audio/pcm.ts';
import { createSerialQueue } from '../../../src/audio/serial.ts';
import { decodeWav, encodeWav } from '../../../src/audio/wav.ts';
import { closedError } from './closed.ts';
import type { AudioOut, ResumedPlayback, StagedPlayback } from '../../board.ts';

export interface FileSink extends AudioOut {
  readonly dir: string;
}

/** Keeps names portable (no colons for Windows, no separators for path escapes) and short. */
export function safeLabel(label: string): string {
  const safe = label
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+|_+$/g, '')
    .slice(0, 80);
  return safe || 'announcement';
}

export function wavFileName(label: string, at: Date = new Date()): string {
  return `${at.toISOString().replace(/:/g, '')}-${safeLabel(label)}.wav`;
}

const PARTIAL = '.partial';

export function createFileSink(dir: string): FileSink {
  const queue = createSerialQueue();
  let closed = false;
  const stage = async (pcm: Pcm, label: string): Promise<StagedPlayback> => {
    if (closed) throw closedError('file');
    await mkdir(dir, { recursive: true });
    const name = wavFileName(label);
    // Hidden until commit: a crash mid-write leaves a .partial file, never a truncated .wav.
    const partial = path.join(dir, `${name}.${randomUUID().slice(0, 8)}${PARTIAL}`);
    await writeFile(partial, encodeWav(pcm));
    return {
      token: partial,
      commit: async () => ({
        sink: 'file',
        file: await publish(partial, path.join(dir, name)),
        durationMs: durationMs(pcm),
      }),
      discard: () => rm(partial, { force: true }),
    };
  };
  const resume = async (partial: string): Promise<ResumedPlayback> => {
    const target = partial.replace(/\.[0-9a-f]{8}\.partial$/, '');
    const played = async (file: string, already: boolean): Promise<ResumedPlayback> => ({
      playback: { sink: 'file', file, durationMs: durationMs(decodeWav(await readFile(file))) },
      already,
    });
    const info = await stat(partial).catch(() => null);
    if (info && info.nlink === 1) return played(await publish(partial, target), false);
    // Published before the crash: the staged file has a second name (only the tidy-up was lost),
    // or is gone and its published name is there. Labels are unique per announcement, so a file
    // of that name is this announcement's.
    const published = await findPublished(target, info?.ino);
    if (published) {
      if (info) await rm(partial, { force: true });
      return played(published, true);
    }
    throw new Error(`the staged audio ${partial} is gone and was never published: it did not come out`);
  };
  return {
    name: 'file',
    dir,
    stage: (pcm, label) => queue.run(() => stage(pcm, label)),
    play: (pcm, label) => queue.run(async () => (await stage(pcm, label)).commit()),
    resume: (token) => queue.run(() => resume(token)),
    async close() {
      closed = true;
      await queue.idle();
    },
  };
}

/** The published name of a staged file: `file` or `file-N.wav`, the same inode when the staged one is still there. */
async function findPublished(file: string, ino: number | undefined): Promise<string | null> {
  const base = path.basename(file, '.wav');
  const names = await readdir(path.dirname(file)).catch(() => [] as string[]);
  const isName = (n: string) =>
    n === `${base}.wav` || (n.startsWith(`${base}-`) && /^\d+\.wav$/.test(n.slice(base.length + 1)));
  const candidates = names.filter(isName);
  for (const name of candidates) {
    const full = path.join(path.dirname(file), name);
    if (ino === undefined) return full;
    if ((await stat(full).catch(() => null))?.ino === ino) return full;
  }
  return null;
}

/** Moves a finished file to its name; the same name twice gets -1, -2 … instead of overwriting. */
async function publish(partial: string, file: string): Promise<string> {
  const base = file.slice(0, -'.wav'.length);
  for (let n = 0; ; n++) {
    const target = n === 0 ? file : `${base}-${n}.wav`;
    try {
      await link(partial, target); // fails with EEXIST where rename would overwrite
      await rm(partial, { force: true });
      return target;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Error(`file sink: could not write ${target}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
}

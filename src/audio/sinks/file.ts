/** Writes each announcement as its own WAV: the fallback when no sound device answers. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { durationMs, type Pcm } from '../pcm.ts';
import { createSerialQueue } from '../serial.ts';
import { encodeWav } from '../wav.ts';
import { closedError, type AudioSink, type PlayResult } from './sink.ts';

export interface FileSink extends AudioSink {
  readonly dir: string;
}

/** Keeps names portable (no colons for Windows, no separators for path escapes) and short. */
export function safeLabel(label: string): string {
  const safe = label.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '').slice(0, 80);
  return safe || 'announcement';
}

export function wavFileName(label: string, at: Date = new Date()): string {
  return `${at.toISOString().replace(/:/g, '')}-${safeLabel(label)}.wav`;
}

export function createFileSink(dir: string): FileSink {
  const queue = createSerialQueue();
  let closed = false;
  return {
    name: 'file',
    dir,
    play(pcm: Pcm, label: string): Promise<PlayResult> {
      if (closed) return Promise.reject(closedError('file'));
      return queue.run(async () => {
        await mkdir(dir, { recursive: true });
        const bytes = encodeWav(pcm);
        const base = wavFileName(label).slice(0, -'.wav'.length);
        // Same label in the same millisecond must not overwrite the earlier file: 'wx' + a counter.
        for (let n = 0; ; n++) {
          const file = path.join(dir, n === 0 ? `${base}.wav` : `${base}-${n}.wav`);
          try {
            await writeFile(file, bytes, { flag: 'wx' });
            return { sink: 'file', file, durationMs: durationMs(pcm) };
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
              throw new Error(`file sink: could not write ${file}: ${(err as Error).message}`, { cause: err });
            }
          }
        }
      });
    },
    async close() {
      closed = true;
      await queue.idle();
    },
  };
}

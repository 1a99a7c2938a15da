/** Chooses where announcements go: `--audio auto | player | file:DIR | none`. */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { probeSoundDevice } from './device.ts';
import { createFileSink } from './file.ts';
import { createNoneSink } from './none.ts';
import { createPlayerSink } from './player.ts';
import type { AudioSink } from './sink.ts';

export type { AudioSink, PlayResult } from './sink.ts';
export { soundDeviceAnswers, probeSoundDevice } from './device.ts';
export { createFileSink } from './file.ts';
export { createMemorySink, type MemorySink } from './memory.ts';
export { createNoneSink } from './none.ts';
export { createPlayerSink } from './player.ts';

export type AudioSpec = { kind: 'auto' } | { kind: 'player' } | { kind: 'file'; dir: string } | { kind: 'none' };

const ALLOWED = 'auto, player, file:DIR (e.g. file:./out) or none';

export function parseAudioSpec(text: string): AudioSpec {
  const t = text.trim();
  const colon = t.indexOf(':');
  const kind = (colon < 0 ? t : t.slice(0, colon)).toLowerCase();
  if (kind === 'file') {
    const dir = colon < 0 ? '' : t.slice(colon + 1).trim();
    if (!dir) throw new Error(`invalid audio spec "${text}": "file" needs a directory, as file:DIR (e.g. file:./out)`);
    return { kind: 'file', dir };
  }
  if (colon < 0 && (kind === 'auto' || kind === 'player' || kind === 'none')) return { kind };
  throw new Error(`invalid audio spec "${text}": expected ${ALLOWED}`);
}

export interface OpenSinkOptions {
  log: Logger;
  /** Where `auto` writes WAVs when no sound device answers. Default ./out */
  fallbackDir?: string;
}

export async function openSink(spec: AudioSpec, opts: OpenSinkOptions): Promise<AudioSink> {
  switch (spec.kind) {
    case 'player':
      return createPlayerSink();
    case 'none':
      return createNoneSink();
    case 'file':
      return openFileSink(spec.dir);
    case 'auto': {
      const probe = await probeSoundDevice();
      if (probe.ok) return createPlayerSink();
      const dir = path.resolve(opts.fallbackDir ?? './out');
      opts.log.warn({ reason: probe.reason, dir }, `no sound device answered (${probe.reason}); writing announcements as WAV files to ${dir}`);
      return openFileSink(dir);
    }
  }
}

async function openFileSink(dir: string): Promise<AudioSink> {
  // Create it now so a bad directory fails at startup, not at the first payment.
  await mkdir(dir, { recursive: true });
  return createFileSink(dir);
}

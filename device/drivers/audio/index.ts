/**
 * The audio outputs, as a registry like the boards and voices: `--audio auto | player |
 * file:DIR | alsa:DEVICE | none`, and the device config's `audio` key. Each output is a driver
 * file in this folder behind the board's one `AudioOut` interface; adding one means adding a
 * file and a line below, not editing a switch in every caller.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AudioOut } from '../../board.ts';
import { createAlsaSink } from './alsa.ts';
import { probeSoundDevice } from './device.ts';
import { createFileSink } from './file.ts';
import { createNoneSink } from './none.ts';
import { createPlayerSink } from './player.ts';

export { soundDeviceAnswers, probeSoundDevice } from './device.ts';
export { createFileSink } from './file.ts';
export { createMemorySink, type MemorySink } from './memory.ts';
export { createNoneSink } from './none.ts';
export { createPlayerSink } from './player.ts';
export { createAlsaSink } from './alsa.ts';

export type AudioSpec =
  | { kind: 'auto' }
  | { kind: 'player' }
  | { kind: 'file'; dir: string }
  | { kind: 'alsa'; device: string }
  | { kind: 'none' };
export type AudioKind = AudioSpec['kind'];

export interface OpenAudioOptions {
  log: Logger;
  /** Where `auto` writes WAVs when no sound device answers. Default ./out */
  fallbackDir?: string;
}

interface AudioOutputDriver<K extends AudioKind> {
  /** How a user writes it, for help and errors. */
  readonly usage: string;
  /** What follows `kind:`, if this output takes an argument (file:DIR, alsa:DEVICE). */
  readonly argument?: { name: string; example: string; toSpec(value: string): Extract<AudioSpec, { kind: K }> };
  open(spec: Extract<AudioSpec, { kind: K }>, opts: OpenAudioOptions): Promise<AudioOut>;
}

type Registry = { [K in AudioKind]: AudioOutputDriver<K> };

export const AUDIO_OUTPUTS = {
  auto: {
    usage: 'auto',
    async open(_spec, opts) {
      const probe = await probeSoundDevice();
      if (probe.ok) return createPlayerSink();
      const dir = path.resolve(opts.fallbackDir ?? './out');
      opts.log.warn(
        { reason: probe.reason, dir },
        `no sound device answered (${probe.reason}); writing announcements as WAV files to ${dir}`,
      );
      return openFileSink(dir);
    },
  },
  player: { usage: 'player', open: async () => createPlayerSink() },
  file: {
    usage: 'file:DIR (e.g. file:./out)',
    argument: { name: 'a directory', example: 'file:DIR (e.g. file:./out)', toSpec: (dir) => ({ kind: 'file', dir }) },
    open: (spec) => openFileSink(spec.dir),
  },
  alsa: {
    usage: 'alsa:DEVICE (e.g. alsa:plughw:1,0)',
    argument: {
      name: 'an ALSA device',
      example: 'alsa:DEVICE (e.g. alsa:plughw:1,0; see aplay -L)',
      toSpec: (device) => ({ kind: 'alsa', device }),
    },
    open: async (spec) => createAlsaSink(spec.device),
  },
  none: { usage: 'none', open: async () => createNoneSink() },
} satisfies Registry;

export const AUDIO_KINDS = Object.keys(AUDIO_OUTPUTS) as AudioKind[];

function isKind(k: string): k is AudioKind {
  return Object.hasOwn(AUDIO_OUTPUTS, k);
}

function allowed(): string {
  const usages = AUDIO_KINDS.map((k) => AUDIO_OUTPUTS[k].usage);
  return `${usages.slice(0, -1).join(', ')} or ${usages.at(-1)}`;
}

export function parseAudioSpec(text: string): AudioSpec {
  const t = text.trim();
  const colon = t.indexOf(':');
  const kind = (colon < 0 ? t : t.slice(0, colon)).toLowerCase();
  if (!isKind(kind)) throw new Error(`invalid audio spec "${text}": expected ${allowed()}`);
  const driver: AudioOutputDriver<AudioKind> = AUDIO_OUTPUTS[kind] as AudioOutputDriver<AudioKind>;
  if (!driver.argument) {
    if (colon >= 0) throw new Error(`invalid audio spec "${text}": expected ${allowed()}`);
    return { kind } as AudioSpec;
  }
  const value = colon < 0 ? '' : t.slice(colon + 1).trim();
  if (!value)
    throw new Error(
      `invalid audio spec "${text}": "${kind}" needs ${driver.argument.name}, as ${driver.argument.example}`,
    );
  return driver.argument.toSpec(value);
}

/** Opens the output a spec names. */
export function openAudioOut(spec: AudioSpec, opts: OpenAudioOptions): Promise<AudioOut> {
  const driver = AUDIO_OUTPUTS[spec.kind] as AudioOutputDriver<AudioKind>;
  return driver.open(spec, opts);
}

async function openFileSink(dir: string): Promise<AudioOut> {
  // Create it now so a bad directory fails at startup, not at the first payment.
  await mkdir(dir, { recursive: true });
  return createFileSink(dir);
}

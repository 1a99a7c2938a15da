import { existsSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { openAudioOut, parseAudioSpec } from '../../device/drivers/audio/index.ts';
import { createMemorySink } from '../../device/drivers/audio/memory.ts';
import { silence } from '../../src/audio/pcm.ts';
import { tempDir, withEnv, writeCaptureConfig, writeNoDeviceConfig } from './alsa-helpers.ts';
import { needs } from '../support/prerequisites.ts';

const aplay = needs('aplay');

function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { log, lines };
}

describe('parseAudioSpec', () => {
  it('accepts the four forms', () => {
    expect(parseAudioSpec('auto')).toEqual({ kind: 'auto' });
    expect(parseAudioSpec(' Player ')).toEqual({ kind: 'player' });
    expect(parseAudioSpec('none')).toEqual({ kind: 'none' });
    expect(parseAudioSpec('file:./out/wavs')).toEqual({ kind: 'file', dir: './out/wavs' });
    expect(parseAudioSpec('file:C:\\sounds')).toEqual({ kind: 'file', dir: 'C:\\sounds' });
    expect(parseAudioSpec('alsa:plughw:1,0')).toEqual({ kind: 'alsa', device: 'plughw:1,0' });
  });

  it('says what was given and what is allowed', () => {
    expect(() => parseAudioSpec('speaker')).toThrow(
      'invalid audio spec "speaker": expected auto, player, file:DIR (e.g. file:./out), alsa:DEVICE (e.g. alsa:plughw:1,0) or none',
    );
    expect(() => parseAudioSpec('')).toThrow(/invalid audio spec "": expected auto, player/);
    expect(() => parseAudioSpec('file:')).toThrow(/"file" needs a directory/);
    expect(() => parseAudioSpec('file')).toThrow(/"file" needs a directory/);
    expect(() => parseAudioSpec('none:x')).toThrow(/invalid audio spec "none:x"/);
    expect(() => parseAudioSpec('alsa')).toThrow(/"alsa" needs an ALSA device, as alsa:DEVICE/);
  });
});

describe('openAudioOut', () => {
  it('opens none and file sinks', async () => {
    const { log } = capturingLogger();
    const none = await openAudioOut({ kind: 'none' }, { log });
    expect(await none.play(silence(100, 8000), 'x')).toEqual({ sink: 'none', durationMs: 100 });
    const dir = path.join(tempDir('spec'), 'made');
    const file = await openAudioOut({ kind: 'file', dir }, { log });
    expect(file.name).toBe('file');
    expect(existsSync(dir)).toBe(true); // created up front
  });

  it('auto falls back to files with exactly one warning when no device answers', async ({ skip }) => {
    skip(process.platform === 'linux' && aplay.missing, aplay.reason);
    skip(process.platform !== 'linux', 'the no-device case is only reproducible with ALSA');
    const base = tempDir('auto');
    const { log, lines } = capturingLogger();
    const sink = await withEnv({ ALSA_CONFIG_PATH: writeNoDeviceConfig(base) }, () =>
      openAudioOut({ kind: 'auto' }, { log, fallbackDir: path.join(base, 'wavs') }),
    );
    expect(sink.name).toBe('file');
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain(path.join(base, 'wavs'));
    expect(warnings[0]!.msg).toMatch(/no sound device answered \(aplay exited with 1: .*\)/);
    const r = await sink.play(silence(10, 8000), 'hello');
    expect(path.dirname(r.file!)).toBe(path.join(base, 'wavs'));
  });

  it('auto picks the player when a device answers', async ({ skip }) => {
    skip(process.platform === 'linux' && aplay.missing, aplay.reason);
    skip(process.platform !== 'linux', 'needs the ALSA file plugin');
    const base = tempDir('auto-ok');
    const { log, lines } = capturingLogger();
    const sink = await withEnv({ ALSA_CONFIG_PATH: writeCaptureConfig(base, path.join(base, 'c.wav')) }, () =>
      openAudioOut({ kind: 'auto' }, { log }),
    );
    expect(sink.name).toBe('player');
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
  });
});

describe('memory sink', () => {
  it('keeps what it played, with labels', async () => {
    const sink = createMemorySink();
    const a = silence(10, 8000);
    await Promise.all([sink.play(a, 'a'), sink.play(silence(20, 8000), 'b')]);
    expect(sink.played[0]).toBe(a);
    expect(sink.labels).toEqual(['a', 'b']);
    await sink.close();
    await expect(sink.play(a, 'c')).rejects.toThrow(/closed/);
  });
});

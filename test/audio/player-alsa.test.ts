/**
 * The real chain, headless: player sink → node-wav-player → aplay → ALSA file plugin → a WAV on disk.
 * What aplay hands to ALSA must be exactly the samples we synthesised.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concatPcm, silence, type Pcm } from '../../src/audio/pcm.ts';
import { createPlayerSink } from '../../device/drivers/audio/player.ts';
import { createEspeakEngine, espeakInstalled } from '../../src/audio/tts/espeak.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { tempDir, withEnv, writeCaptureConfig, writeNoDeviceConfig } from './alsa-helpers.ts';
import { needs } from '../support/prerequisites.ts';

const aplay = needs('aplay');
const dir = tempDir('alsa');
const sink = createPlayerSink();
afterAll(() => sink.close());

async function speech(): Promise<Pcm> {
  if (espeakInstalled()) return createEspeakEngine().synthesize('微信收款一百二十三点四五元', 'zh-CN');
  // Without the optional TTS the chain is still worth proving, with a recognisable sweep.
  const samples = Int16Array.from({ length: 11_025 }, (_, i) => Math.round(9000 * Math.sin(i * i * 1e-4)));
  return concatPcm([{ sampleRate: 22_050, samples }, silence(20, 22_050)]);
}

function ourTempWavs(): string[] {
  return readdirSync(os.tmpdir()).filter((f) => f.startsWith(`payspeaker-${process.pid}-`) && f.endsWith('.wav'));
}

describe('player sink through aplay (headless)', () => {
  it('plays exactly our PCM and cleans up its temp WAV', { timeout: 30_000 }, async ({ skip }) => {
    skip(aplay.missing, aplay.reason);
    const pcm = await speech();
    const capture = path.join(dir, 'captured.wav');
    const result = await withEnv({ ALSA_CONFIG_PATH: writeCaptureConfig(dir, capture) }, () =>
      sink.play(pcm, 'alsa-test'),
    );
    expect(result.sink).toBe('player');
    expect(result.durationMs).toBeCloseTo((pcm.samples.length * 1000) / 22_050, 6);

    // play() resolved, so aplay has exited and closed the file (header sizes fixed up).
    const got = decodeWav(readFileSync(capture));
    expect(got.sampleRate).toBe(pcm.sampleRate);
    // aplay writes whole periods and pads the last one with silence: exact prefix, zero tail.
    expect(got.samples.length).toBeGreaterThanOrEqual(pcm.samples.length);
    expect(
      Buffer.from(got.samples.buffer, 0, pcm.samples.length * 2).equals(
        Buffer.from(pcm.samples.buffer, pcm.samples.byteOffset, pcm.samples.byteLength),
      ),
    ).toBe(true);
    const tail = got.samples.subarray(pcm.samples.length);
    expect(tail.every((s) => s === 0)).toBe(true);
    expect(tail.length).toBeLessThan(pcm.sampleRate); // less than a buffer (0.5 s here); not a second copy

    expect(ourTempWavs()).toEqual([]);
  });

  it(
    'never overlaps: concurrent plays reach the device one after another, in order',
    { timeout: 30_000 },
    async ({ skip }) => {
      skip(aplay.missing, aplay.reason);
      const conf = writeCaptureConfig(dir, path.join(dir, 'seq.wav'));
      const order: number[] = [];
      await withEnv({ ALSA_CONFIG_PATH: conf }, () =>
        Promise.all(
          [1, 2, 3].map((n) =>
            sink.play({ sampleRate: 8000, samples: new Int16Array(800).fill(n * 1000) }, `n${n}`).then(() => {
              order.push(n);
              // The capture file holds the most recent play only: it must be this one, whole.
              const got = decodeWav(readFileSync(path.join(dir, 'seq.wav')));
              expect(got.samples.subarray(0, 800).every((s) => s === n * 1000)).toBe(true);
            }),
          ),
        ),
      );
      expect(order).toEqual([1, 2, 3]);
    },
  );

  it('rejects with the reason when the device cannot be opened', { timeout: 30_000 }, async ({ skip }) => {
    skip(aplay.missing, aplay.reason);
    const conf = writeNoDeviceConfig(dir);
    const attempt = withEnv({ ALSA_CONFIG_PATH: conf }, () => sink.play(silence(50, 22_050), 'doomed'));
    await expect(attempt).rejects.toThrow(/player sink: could not play "doomed" with aplay: .*Unknown PCM default/);
    expect(ourTempWavs()).toEqual([]);
    // The queue survives a failure.
    const ok = writeCaptureConfig(dir, path.join(dir, 'after.wav'));
    await withEnv({ ALSA_CONFIG_PATH: ok }, () => sink.play(silence(50, 22_050), 'after'));
    expect(existsSync(path.join(dir, 'after.wav'))).toBe(true);
  });
});

/**
 * A device process that plays through the real node-wav-player → aplay chain, headless: aplay's
 * default PCM is an ALSA file plugin, so what the speaker "says" lands in a WAV we can inspect.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { tempDir, writeCaptureConfig, writeNoDeviceConfig } from '../audio/alsa-helpers.ts';
import { needs } from '../support/prerequisites.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { nonSilentMs } from '../../src/audio/pcm.ts';
import type { RunningBroker } from '../../broker/broker.ts';

const aplay = needs('aplay');
let broker: RunningBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker.close());

describe.skipIf(aplay.missing)(`device --audio player (headless ALSA)${aplay.note}`, () => {
  it('plays the announcement through aplay: the captured PCM is real speech', async () => {
    const dir = tempDir('e2e-play');
    const capture = path.join(dir, 'speaker.wav');
    const device = new CliProcess(
      ['device', '--insecure', '--id', 'SPK-PLAY', '--broker', broker.mqttUrl, '--audio', 'player', '--json'],
      {
        ALSA_CONFIG_PATH: writeCaptureConfig(dir, capture),
      },
    );
    await device.waitForEvent((e) => e.event === 'online');
    const result = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '888.88',
      '--device',
      'SPK-PLAY',
      '--broker',
      broker.mqttUrl,
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'played', text: '微信收款八百八十八点八八元' });
    const played = decodeWav(fs.readFileSync(capture));
    expect(played.sampleRate).toBe(22050);
    expect(nonSilentMs(played)).toBeGreaterThan(1000);
    expect(await device.stop()).toBe(0);
  });

  it('acks audio-failed when the sound device cannot be opened, and `pay` exits 3 with the reason', async () => {
    const dir = tempDir('e2e-nodev');
    const device = new CliProcess(
      ['device', '--insecure', '--id', 'SPK-MUTE', '--broker', broker.mqttUrl, '--audio', 'player', '--json'],
      {
        ALSA_CONFIG_PATH: writeNoDeviceConfig(dir),
      },
    );
    await device.waitForEvent((e) => e.event === 'online');
    const result = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '5',
      '--device',
      'SPK-MUTE',
      '--broker',
      broker.mqttUrl,
    ]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(
      /rejected by SPK-MUTE: audio-failed: could not play the announcement: .*Unknown PCM default/,
    );
    expect(result.stderr).toMatch(/was rejected: audio-failed/);
    expect(device.child.exitCode).toBeNull(); // still running
    expect(await device.stop()).toBe(0);
  });
});

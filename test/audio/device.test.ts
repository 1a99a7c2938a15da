import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeSoundDevice, soundDeviceAnswers } from '../../device/drivers/audio/index.ts';
import { tempDir, withEnv, writeCaptureConfig, writeNoDeviceConfig } from './alsa-helpers.ts';
import { needs } from '../support/prerequisites.ts';

const aplay = needs('aplay');
const dir = tempDir('device');

describe.runIf(process.platform === 'linux')('soundDeviceAnswers (Linux, via aplay)', () => {
  it('is true when ALSA_CONFIG_PATH gives a working default (file plugin)', async ({ skip }) => {
    skip(aplay.missing, aplay.reason);
    const conf = writeCaptureConfig(dir, path.join(dir, 'probe.wav'));
    expect(await withEnv({ ALSA_CONFIG_PATH: conf }, soundDeviceAnswers)).toBe(true);
  });

  it('is false when the ALSA config has no usable default', async ({ skip }) => {
    skip(aplay.missing, aplay.reason);
    const conf = writeNoDeviceConfig(dir);
    const probe = await withEnv({ ALSA_CONFIG_PATH: conf }, probeSoundDevice);
    expect(probe.ok).toBe(false);
    expect(probe.reason).toMatch(/aplay exited with 1: .*audio open error/);
  });

  it('is false when aplay is not on PATH', async () => {
    const empty = path.join(dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const probe = await withEnv({ PATH: empty }, probeSoundDevice);
    expect(probe).toEqual({ ok: false, reason: 'aplay was not found on PATH (install alsa-utils)' });
  });
});

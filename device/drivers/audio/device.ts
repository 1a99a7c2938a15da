/**
 * "Is there a sound device?" — asked by `--audio auto` before choosing between the player and files.
 * On Linux we actually play 50 ms of silence with aplay: that answers for ALSA_CONFIG_PATH, dmix,
 * PulseAudio shims and missing cards alike, which no amount of looking at /dev/snd would.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { silence } from '../../../src/audio/pcm.ts';
import { encodeWav } from '../../../src/audio/wav.ts';

export interface DeviceProbe {
  ok: boolean;
  /** Why not (or what answered), for the log line. */
  reason: string;
}

const PROBE_TIMEOUT_MS = 3000;

export async function soundDeviceAnswers(): Promise<boolean> {
  return (await probeSoundDevice()).ok;
}

export async function probeSoundDevice(): Promise<DeviceProbe> {
  switch (process.platform) {
    case 'linux':
      return probeAplay();
    case 'darwin':
      return (await onPath('afplay'))
        ? { ok: true, reason: 'afplay is available' }
        : { ok: false, reason: 'afplay was not found on PATH' };
    case 'win32':
      return { ok: true, reason: 'Windows always has a SoundPlayer' };
    default:
      return { ok: false, reason: `node-wav-player cannot play on ${process.platform}` };
  }
}

async function probeAplay(): Promise<DeviceProbe> {
  const file = path.join(os.tmpdir(), `payspeaker-probe-${process.pid}-${randomUUID()}.wav`);
  await writeFile(file, encodeWav(silence(50, 22_050)));
  try {
    return await new Promise<DeviceProbe>((resolve) => {
      const child = spawn('aplay', ['-q', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (c: string) => (stderr += c));
      // A wedged device (e.g. a blocked dmix) makes aplay hang rather than fail: treat as no device.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ ok: false, reason: `aplay did not finish within ${PROBE_TIMEOUT_MS / 1000} s` });
      }, PROBE_TIMEOUT_MS);
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve({
          ok: false,
          reason:
            err.code === 'ENOENT' ? 'aplay was not found on PATH (install alsa-utils)' : `aplay failed: ${err.message}`,
        });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const last = stderr.trim().split('\n').pop();
        resolve(
          code === 0
            ? { ok: true, reason: 'aplay played 50 ms of silence' }
            : { ok: false, reason: `aplay exited with ${code ?? signal}${last ? `: ${last}` : ''}` },
        );
      });
    });
  } finally {
    await rm(file, { force: true });
  }
}

async function onPath(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      await access(path.join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

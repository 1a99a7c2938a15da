/**
 * Plays through ALSA on a named PCM device (`aplay -D plughw:1,0`), for boards whose sound card
 * is not ALSA's default — a USB speaker or an I2S amplifier HAT on a Raspberry Pi. The WAV goes
 * to aplay's stdin: no temp file on the SD card for every payment.
 */
import { spawn } from 'node:child_process';
import { durationMs, type Pcm } from '../../../src/audio/pcm.ts';
import { createSerialQueue } from '../../../src/audio/serial.ts';
import { encodeWav } from '../../../src/audio/wav.ts';
import { closedError } from './closed.ts';
import { type AudioOut, type PlayResult } from '../../board.ts';

export interface AlsaSink extends AudioOut {
  readonly device: string;
}

export function createAlsaSink(device: string): AlsaSink {
  const queue = createSerialQueue();
  let closed = false;
  return {
    name: `alsa:${device}`,
    device,
    play(pcm: Pcm, label: string): Promise<PlayResult> {
      if (closed) return Promise.reject(closedError(`alsa:${device}`));
      return queue.run(async () => {
        const result: PlayResult = { sink: 'alsa', durationMs: durationMs(pcm) };
        if (pcm.samples.length > 0) await aplay(device, encodeWav(pcm), label, result.durationMs + APLAY_GRACE_MS);
        return result;
      });
    },
    async close() {
      closed = true;
      await queue.idle();
    },
  };
}

/** How much longer than the sound aplay may take before it counts as hung (a wedged dmix, a device someone else holds). */
const APLAY_GRACE_MS = 5_000;

function aplay(device: string, wav: Buffer, label: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('aplay', ['-q', '-D', device, '-t', 'wav', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    // One announcement at a time: a hung aplay would silence every later payment.
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (stderr.length < 4096) stderr += c;
    });
    const fail = (why: string) =>
      reject(new Error(`alsa sink: could not play "${label}" on ALSA device "${device}": ${why}`));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(err.code === 'ENOENT' ? 'aplay is not on PATH (install alsa-utils)' : err.message);
    });
    // aplay closing stdin early (device failed to open) is reported by its exit code and stderr.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (hung)
        return fail(
          `aplay did not finish within ${Math.round(timeoutMs / 1000)} s: check that nothing else holds the device (fuser -v /dev/snd/*)`,
        );
      if (code === 0) return resolve();
      const detail = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
      fail(`aplay exited with ${code ?? signal}${detail ? `: ${detail}` : ''} (list devices with "aplay -L")`);
    });
    child.stdin.end(wav);
  });
}

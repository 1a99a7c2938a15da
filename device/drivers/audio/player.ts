/**
 * Plays through node-wav-player, which shells out to aplay (Linux), afplay (macOS) or PowerShell
 * (Windows). It only plays files, so each announcement goes through a temp WAV that we delete after.
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import player from 'node-wav-player';
import { durationMs, type Pcm } from '../../../src/audio/pcm.ts';
import { createSerialQueue } from '../../../src/audio/serial.ts';
import { encodeWav } from '../../../src/audio/wav.ts';
import { closedError } from './closed.ts';
import { type AudioOut, type PlayResult } from '../../board.ts';

// node-wav-player is a singleton that tracks one child process, so every player sink in the
// process shares this queue: two sinks must not start the player over each other either.
const queue = createSerialQueue();

export function playerCommand(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux') return 'aplay';
  if (platform === 'darwin') return 'afplay';
  if (platform === 'win32') return 'PowerShell SoundPlayer';
  return `(no player for ${platform})`;
}

export function createPlayerSink(): AudioOut {
  let closed = false;
  return {
    name: 'player',
    play(pcm: Pcm, label: string): Promise<PlayResult> {
      if (closed) return Promise.reject(closedError('player'));
      return queue.run(async () => {
        const result: PlayResult = { sink: 'player', durationMs: durationMs(pcm) };
        if (pcm.samples.length === 0) return result; // nothing to hear; don't spawn a process for it
        const file = path.join(os.tmpdir(), `payspeaker-${process.pid}-${randomUUID()}.wav`);
        try {
          await writeFile(file, encodeWav(pcm));
          await playFile(file, label);
          return result;
        } finally {
          await rm(file, { force: true });
        }
      });
    },
    async close() {
      closed = true;
      await queue.idle();
    },
  };
}

async function playFile(file: string, label: string): Promise<void> {
  // sync: true, because otherwise play() resolves after a fixed 500 ms and later failures vanish.
  const playing = player.play({ path: file, sync: true });
  // node-wav-player rejects with just an exit code; the player's stderr says why (no device, busy…).
  // play() spawns synchronously, so its (private) child is ours to listen to right now.
  const stderr = collectStderr((player as unknown as { _proc?: ChildProcess | null })._proc);
  try {
    await playing;
  } catch (err) {
    const cmd = playerCommand();
    const detail = stderr().trim().split('\n').filter(Boolean).slice(-2).join(' / ');
    const hint = /ENOENT/.test(String((err as Error).message)) && cmd === 'aplay' ? ' (install alsa-utils)' : '';
    throw new Error(
      `player sink: could not play "${label}" with ${cmd}: ${(err as Error).message}${hint}${detail ? `: ${detail}` : ''}`,
      { cause: err },
    );
  }
}

function collectStderr(proc: ChildProcess | null | undefined): () => string {
  let text = '';
  proc?.stderr?.setEncoding('utf8');
  proc?.stderr?.on('data', (chunk: string) => {
    if (text.length < 4096) text += chunk;
  });
  return () => text;
}

/**
 * Festival's `text2wave`, the only way to get audio out of the `say` engine on Linux: say.js can
 * only *play* through festival there (its export() throws). Festival ships English voices only.
 */
import { spawn } from 'node:child_process';
import type { Pcm } from '../pcm.ts';
import { decodeSpeechWav } from './wav-convert.ts';

export const TEXT2WAVE = 'text2wave';

export function festivalMissingMessage(command: string): string {
  return (
    `say: festival's ${command} is not installed, so the say engine cannot speak on Linux: ` +
    'install the festival Debian package (sudo apt-get install festival) or use --voice-engine espeak'
  );
}

/** Speaks `text` with text2wave (text on stdin, RIFF on stdout) and decodes the result. */
export function text2wave(text: string, command: string = TEXT2WAVE): Promise<Pcm> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['-otype', 'riff'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'ENOENT' ? new Error(festivalMissingMessage(command), { cause: e }) : e);
    });
    // Festival dies on a closed pipe only if it is still reading; ignore EPIPE and report the exit.
    child.stdin.on('error', () => undefined);
    child.stdin.end(text);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(
          new Error(
            `say: ${command} ${why} reading ${JSON.stringify(text)}${err ? `: ${err.trim().slice(-300)}` : ''}`,
          ),
        );
        return;
      }
      try {
        resolve(decodeSpeechWav(Buffer.concat(out)));
      } catch (e) {
        reject(new Error(`say: ${command} wrote audio that could not be read: ${(e as Error).message}`, { cause: e }));
      }
    });
  });
}

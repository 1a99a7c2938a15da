/**
 * The laptop board: real audio through the machine's player (aplay, afplay, PowerShell),
 * or WAV files when no sound device answers.
 */
import { openSink, type AudioSpec } from '../../src/audio/sinks/index.ts';
import type { Logger } from '../../src/log.ts';
import { systemClock, type Board } from '../board.ts';

export interface LaptopBoardOptions {
  audio: AudioSpec;
  log: Logger;
  /** Where `auto` writes WAVs without a sound device. Default ./out */
  fallbackDir?: string;
}

export async function createLaptopBoard(opts: LaptopBoardOptions): Promise<Board> {
  const audio = await openSink(opts.audio, { log: opts.log, fallbackDir: opts.fallbackDir });
  return { name: 'laptop', audio, clock: systemClock, close: () => audio.close() };
}

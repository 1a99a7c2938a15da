/** Shared by the voice tests: a real pino logger whose lines we can read, and a real engine we can count. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { TtsEngine } from '../../src/audio/tts/engine.ts';
import { ESPEAK_PACKAGE } from '../../src/audio/tts/espeak.ts';
import type { Logger } from '../../src/log.ts';

export const ESPEAK_MISSING = `optional package ${ESPEAK_PACKAGE} is not installed (npm install ${ESPEAK_PACKAGE})`;

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export function captureLog(): { log: Logger; lines: LogLine[]; warnings: () => LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40) };
}

/** The real engine, with a count of the calls that reached it. */
export function counting(engine: TtsEngine): TtsEngine & { calls: string[] } {
  const calls: string[] = [];
  return {
    name: engine.name,
    version: engine.version,
    calls,
    synthesize(text, lang) {
      calls.push(text);
      return engine.synthesize(text, lang);
    },
  };
}

const made: string[] = [];

/** A fresh folder under the OS temp dir, removed by removeTempDirs() (call it in afterAll). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `payspeaker-${prefix}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

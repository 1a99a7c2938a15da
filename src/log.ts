/**
 * Logging with pino, always to stderr so stdout stays free for results and `--json` events.
 * On a terminal the lines are pretty-printed; elsewhere they are JSON, one per line.
 */
import pino from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from './logger.ts';

export { silentLogger, type Logger } from './logger.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  level?: LogLevel;
  /** Force JSON lines even on a terminal (scripts, CI). */
  json?: boolean;
  name?: string;
  /** Where lines go instead of stderr (the device's terminal panel prints them above itself). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const base = { name: opts.name ?? 'payspeaker', level };
  if (!opts.json && (opts.destination || process.stderr.isTTY)) {
    // Synchronous pretty stream: no worker thread, and lines are never lost on exit.
    const destination = opts.destination ?? 2;
    return pino(
      base,
      pretty({ destination, sync: true, singleLine: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' }),
    );
  }
  return pino(base, opts.destination ?? pino.destination({ dest: 2, sync: true }));
}

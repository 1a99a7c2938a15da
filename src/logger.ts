/**
 * The logger type and a silent logger, without the terminal's pretty-printer: what the firmware
 * needs, on Node and in a browser tab (where pino resolves to its browser build). Creating a
 * logger for a process (stderr, pretty on a terminal) is log.ts's.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * What the CLI writes: how speaker events look on a terminal (with --json they are printed as
 * they are), and the writes to stdout and stderr themselves, which survive a reader that has
 * gone away (`payspeaker devices | head -1`).
 */
import type { SpeakerEvent } from '../../device/events.ts';
import { formatAmount } from '../../src/protocol/index.ts';

/** A line for a person, or null for events a terminal does not need (the panel shows the state). */
export function describeEvent(e: SpeakerEvent): string | null {
  const who = `[${e.device}]`;
  switch (e.event) {
    case 'state':
      return null;
    case 'online':
      return `${who} online (${e.broker})`;
    case 'offline':
      return `${who} offline: lost the broker at ${e.broker}, reconnecting`;
    case 'announced': {
      const where = e.file ? `, ${e.file}` : '';
      return `${who} 🔊 ${e.text}  (${formatAmount(e)} ${e.currency}, ${e.id}${where})`;
    }
    case 'summarized':
      return `${who} 🔊 ${e.text}  (${e.count} ${e.scope} payments summarized)`;
    case 'spoke':
      return `${who} 🔊 ${e.text}`;
    case 'volume':
      return `${who} volume ${e.volume}/10`;
    case 'duplicate':
      return `${who} duplicate ${e.id}: already announced, not spoken again`;
    case 'rejected':
      return `${who} rejected ${e.id ?? '(no id)'}: ${e.reason}: ${e.detail}`;
    case 'command':
      return `${who} command ${e.command ?? '(unknown)'} ${e.ok ? 'done' : `failed: ${e.error}`}`;
  }
}

export function eventLine(e: SpeakerEvent, json: boolean): string | null {
  return json ? JSON.stringify(e) : describeEvent(e);
}

/** Set once stdout's reader has gone: later writes are dropped instead of failing again. */
let stdoutClosed = false;

/** The errors a write to a pipe or terminal whose other end has closed ends with. */
export function isClosedPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

/** Writes results to stdout; nothing once its reader has gone. */
export function writeOut(text: string): void {
  if (!stdoutClosed) process.stdout.write(text);
}

/** Writes messages to stderr; nothing once its reader has gone (there is nobody left to tell). */
export function writeErr(text: string): void {
  if (!process.stderr.destroyed) process.stderr.write(text);
}

/**
 * A closed stdout is not an error: the reader (`head`, `grep -q`) has all it wanted, as with
 * `git log | head`. Node ignores SIGPIPE, so instead of dying quietly as a C program would, the
 * process gets EPIPE as an 'error' event, which, unhandled, prints a stack trace and exits 1.
 * `onClosed` runs once, on the first such error. Other stdout errors are rethrown; stderr errors
 * of the same kind are dropped, since there is no one left to read them.
 */
export function handleClosedPipes(onClosed: () => void): void {
  process.stdout.on('error', (err) => {
    if (!isClosedPipe(err)) throw err;
    if (stdoutClosed) return;
    stdoutClosed = true;
    onClosed();
  });
  process.stderr.on('error', (err) => {
    if (!isClosedPipe(err)) throw err;
  });
}

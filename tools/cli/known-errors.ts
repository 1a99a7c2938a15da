/**
 * The last line of defence between a failure and the user: every error class whose meaning is
 * known becomes one line and the exit code the README's table gives it, whichever command let
 * it through. Commands still say more where they know more (which flag, which next command);
 * this only makes sure nothing known ever reaches a person as a stack trace.
 */
import { ConfigError, fileProblem } from '../../src/config.ts';
import { MoneyError } from '../../src/protocol/money.ts';
import { BrokerCertificateError, BrokerRefusedError, BrokerUnreachableError } from '../../src/mqtt/connect.ts';
import { ApiRequestError, ApiUnreachableError } from '../api/client.ts';
import { CliError, EXIT } from './exit-codes.ts';

export interface Failure {
  message: string;
  exitCode: number;
}

/** File-system errors that mean "this path cannot be used", as opposed to a bug. */
const PATH_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EROFS']);
const READS = new Set(['stat', 'lstat', 'access', 'scandir', 'readlink', 'read', 'opendir', 'realpath']);

/** One line and an exit code for a known failure, or null when it is truly unexpected (a bug). */
export function describeFailure(err: unknown): Failure | null {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError || err instanceof MoneyError) return { message: err.message, exitCode: EXIT.USAGE };
  // The broker did not answer, or answered with a certificate we do not trust: either way it was
  // not reached; the message says whether to start one, fix --broker or pass --ca.
  if (
    err instanceof BrokerUnreachableError ||
    err instanceof BrokerCertificateError ||
    err instanceof ApiUnreachableError
  )
    return { message: err.message, exitCode: EXIT.UNREACHABLE };
  if (err instanceof BrokerRefusedError) return { message: err.message, exitCode: EXIT.REFUSED };
  if (err instanceof ApiRequestError) return apiFailure(err);
  if (isErrno(err)) return errnoFailure(err);
  return null;
}

/**
 * What to tell the user about any failure: the known ones as describeFailure says; anything
 * else is a bug or a surprise, shown by its message, with the stack only when asked for
 * (--debug, PAYSPEAKER_DEBUG=1), since a stack helps whoever fixes it and frightens everyone else.
 */
export function failureFor(err: unknown, debug: boolean): Failure {
  const known = describeFailure(err);
  if (known) return known;
  const message = err instanceof Error ? err.message : String(err);
  if (debug && err instanceof Error && err.stack)
    return { message: `unexpected error: ${err.stack}`, exitCode: EXIT.FAILURE };
  return { message: `unexpected error: ${message} (run again with --debug to see where)`, exitCode: EXIT.FAILURE };
}

function apiFailure(err: ApiRequestError): Failure {
  if (err.status === 401 || err.status === 403) {
    return {
      message: `the notification API refused the credentials (${err.message}): point --data at the broker's data directory, or pass --insecure for an --insecure broker`,
      exitCode: EXIT.REFUSED,
    };
  }
  return {
    message: `the notification API said ${err.status} ${err.code}: ${err.message}`,
    exitCode: err.status < 500 ? EXIT.USAGE : EXIT.FAILURE,
  };
}

function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

function errnoFailure(err: NodeJS.ErrnoException & { port?: number; address?: string }): Failure | null {
  if (err.code === 'EADDRINUSE' || (err.code === 'EACCES' && err.syscall === 'listen')) {
    const where = err.port === undefined ? 'a port' : `port ${err.port}${err.address ? ` on ${err.address}` : ''}`;
    const why = err.code === 'EADDRINUSE' ? 'is already in use (another broker?)' : 'needs privileges';
    return { message: `${where} ${why}: stop what uses it or choose another with --port`, exitCode: EXIT.NOT_STARTED };
  }
  if (err.path && err.code && PATH_ERRORS.has(err.code)) {
    // open() is used for both: a missing parent directory is the usual reason a write fails.
    const verb = READS.has(err.syscall ?? '') ? 'read' : err.syscall === 'open' ? 'open' : 'write';
    return { message: `cannot ${verb} ${err.path}: ${fileProblem(err)}`, exitCode: EXIT.USAGE };
  }
  return null;
}

/**
 * The notification API's failures in the CLI's words and exit codes, for every command that
 * calls it (pay, payments): unreachable (5), refused credentials (6, with what to point --data
 * at), any other answer as the API worded it (2 for a 4xx, 1 for a server error).
 */
import { ApiRequestError, ApiUnreachableError } from '../api/client.ts';
import { CliError, EXIT } from './exit-codes.ts';

/** `what` names the request for other answers, e.g. "refused the payment", "answered". */
export function apiCliError(err: unknown, opts: { insecure?: boolean; what: string }): Error {
  if (err instanceof CliError) return err;
  if (err instanceof ApiUnreachableError) return new CliError(err.message, EXIT.UNREACHABLE);
  if (!(err instanceof ApiRequestError)) return err as Error;
  if (err.status === 401) {
    const hint = opts.insecure
      ? 'the broker is not --insecure: drop --insecure and point --data at its data directory'
      : `point --data at the broker's data directory (it holds broker/backend.json)`;
    return new CliError(`the notification API refused us: ${err.message}; ${hint}`, EXIT.REFUSED);
  }
  return new CliError(
    `the notification API ${opts.what} (HTTP ${err.status}, ${err.code}): ${err.message}`,
    err.status < 500 ? EXIT.USAGE : EXIT.FAILURE,
  );
}

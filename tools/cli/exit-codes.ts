/** Exit codes every payspeaker command uses, so scripts can tell failures apart. */
export const EXIT = {
  OK: 0,
  /** Something unexpected: a bug or an environment problem; the message says which. */
  FAILURE: 1,
  /** Bad command line, option value or config file, or a named file that cannot be read or written. */
  USAGE: 2,
  /** The device rejected the payment, or refused / rolled back a firmware update (the reason is printed). */
  REJECTED: 3,
  /** No ack from the device in time. */
  TIMEOUT: 4,
  /** The broker could not be reached. */
  UNREACHABLE: 5,
  /** The broker refused the credentials (or they are missing). */
  REFUSED: 6,
  /** A server could not start: its port is in use or needs privileges, or its storage is unavailable. */
  NOT_STARTED: 7,
} as const;

/** An error whose message is meant for the user, with the exit code it should end with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Why a flash failed, as a kind the CLI turns into an exit code, and a message a person can act on. */
export type FlashFailure =
  /** A bad option, config or local image: nothing was sent. */
  | 'input'
  /** The device could not be reached over SSH. */
  | 'unreachable'
  /** The device's host key is unknown or changed. */
  | 'host-key'
  /** The device refused our key. */
  | 'auth'
  /** Something on the device failed (a command, a file, its Node version). */
  | 'remote'
  /** The new firmware did not come online and the device was switched back. */
  | 'rolled-back';

export class FlashError extends Error {
  constructor(
    readonly kind: FlashFailure,
    message: string,
    /** Extra facts for --json (e.g. the loader's last log lines). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'FlashError';
  }
}

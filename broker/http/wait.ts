/**
 * `?wait=` on the endpoints that can hold their answer (a long poll): GET /v1/payments/:id waits
 * for a final status, POST /v1/devices/:id/commands for the speaker's result. One spelling for
 * both: seconds (`wait=10`, `wait=10s`) or milliseconds (`wait=500ms`), capped.
 */
import { ApiError } from './errors.ts';

/** Milliseconds to wait (0: answer at once); throws `invalid-wait` for anything that is not a duration. */
export function parseWait(text: string | undefined, maxMs: number): number {
  if (text === undefined || text === '') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (!m)
    throw new ApiError(
      400,
      'invalid-wait',
      `?wait=${text.slice(0, 40)} is not a duration: write seconds (wait=10) or wait=500ms; at most ${maxMs / 1000} s`,
    );
  return Math.min(maxMs, Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000)));
}

/**
 * When to publish a pending payment again: exponential backoff with "equal jitter" (half
 * fixed, half random), so a fleet that went offline together does not come back in lockstep,
 * yet no retry comes sooner than half its step.
 */
export interface RetryPolicy {
  /** Wait before the second attempt. */
  baseMs: number;
  /** The longest wait between attempts. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 5_000, maxMs: 5 * 60_000 };

/** The wait after attempt number `attempt` (1 = the first publish). */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}

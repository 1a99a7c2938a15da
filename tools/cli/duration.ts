import { CliError } from './exit-codes.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "10s", "500ms", "2m", or a bare number of seconds → milliseconds. */
export function parseDuration(text: string, option: string, opts: { allowZero?: boolean } = {}): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * UNITS[match[2] ?? 's']! : NaN;
  if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && !opts.allowZero)) {
    throw new CliError(`${option} ${JSON.stringify(text)} is not a duration: write it like 10s, 500ms or 2m`);
  }
  return Math.round(ms);
}

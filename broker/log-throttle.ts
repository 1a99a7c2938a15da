/**
 * What a client sends must not decide how much the broker writes (issue 12): a device that
 * publishes 3,000 malformed acks or one SUBSCRIBE with 1,000 refused filters used to write a
 * warning for each, copying whatever text it sent into the line. Every log line a client can
 * cause goes through here instead:
 *
 * - one line per key (a client and a reason, e.g. `SPK-0001|malformed-ack`) per interval,
 *   decided by the broker's LogThrottle (limits.ts); what it holds back is counted and reported
 *   in one "N more suppressed" line per key once the interval has passed;
 * - a budget of first lines across all keys (a token bucket, limits.ts), so many clients, or
 *   many keys, cannot add up to a flood either; keys beyond `maxSummaries` share one summary;
 * - `clip` caps any text a client chose (a topic, an ack's detail) before it is logged.
 */
import { LogThrottle, TokenBucket } from './limits.ts';
import type { Logger } from '../src/log.ts';

/** The most characters of client-chosen text copied into a log line. */
export const MAX_COPIED_CHARS = 200;

/**
 * Client-chosen text for a log line: at most `max` characters, then `…(N more)`. A value that is
 * not a string is shown as JSON (an ack's `detail` may be anything); undefined stays undefined,
 * so pino leaves the field out.
 */
export function clip(value: unknown, max = MAX_COPIED_CHARS): string | undefined {
  if (value === undefined) return undefined;
  let text: string;
  if (typeof value === 'string') text = value;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  if (text.length <= max) return text;
  // Never cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…(${text.length - end} more)`;
}

export interface ThrottledLogOptions {
  /** At most one line per key per interval; also how often held-back lines are summarized. Default 1000 ms. */
  intervalMs?: number;
  /** Lines per second across all keys, before the per-key limit even matters. Default 20. */
  linesPerSecond?: number;
  /** Lines at once across all keys. Default 50. */
  burst?: number;
  /** Keys summarized one by one per interval; the rest share one line. Default 20. */
  maxSummaries?: number;
  now?: () => number;
}

type Level = 'info' | 'warn' | 'error';

interface Held {
  level: Level;
  count: number;
  /** The fields of the latest held-back line: who, and the last example. */
  fields: Record<string, unknown>;
  /** What the held-back lines were about, e.g. "malformed acks from device SPK-0001". */
  label: string;
}

export class ThrottledLog {
  private readonly intervalMs: number;
  private readonly gate: LogThrottle;
  private readonly budget: TokenBucket;
  private readonly maxSummaries: number;
  private readonly held = new Map<string, Held>();
  /** Held-back lines whose key did not fit in `held`. */
  private overflow = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    opts: ThrottledLogOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    const now = opts.now ?? Date.now;
    this.gate = new LogThrottle(this.intervalMs, now);
    this.budget = new TokenBucket({ perSecond: opts.linesPerSecond ?? 20, burst: opts.burst ?? 50 }, now);
    this.maxSummaries = opts.maxSummaries ?? 20;
  }

  /**
   * Logs `message` with `fields`, or counts it towards the key's next "N more suppressed" line.
   * `label` names what such lines are about, for that summary.
   */
  warn(key: string, label: string, fields: Record<string, unknown>, message: string): void {
    this.line('warn', key, label, fields, message);
  }

  info(key: string, label: string, fields: Record<string, unknown>, message: string): void {
    this.line('info', key, label, fields, message);
  }

  error(key: string, label: string, fields: Record<string, unknown>, message: string): void {
    this.line('error', key, label, fields, message);
  }

  /** Writes the pending "N more suppressed" lines now (also done by a timer, one interval after the first). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const seconds = this.intervalMs / 1000;
    for (const h of this.held.values()) {
      this.log[h.level](
        { ...h.fields, suppressed: h.count },
        `${h.count} more suppressed in the last ${seconds} s: ${h.label}`,
      );
    }
    this.held.clear();
    if (this.overflow > 0) {
      this.log.warn(
        { suppressed: this.overflow },
        `${this.overflow} more suppressed in the last ${seconds} s: lines from more than ${this.maxSummaries} other clients or reasons`,
      );
    }
    this.overflow = 0;
  }

  private line(level: Level, key: string, label: string, fields: Record<string, unknown>, message: string): void {
    // The key's line is due only once per interval, and only if the broker-wide budget allows it.
    if (this.gate.note(key) !== null && this.budget.take()) {
      this.log[level](fields, message);
      return;
    }
    const h = this.held.get(key);
    if (h) {
      h.count++;
      h.fields = fields;
    } else if (this.held.size < this.maxSummaries) this.held.set(key, { level, count: 1, fields, label });
    else this.overflow++;
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }
}

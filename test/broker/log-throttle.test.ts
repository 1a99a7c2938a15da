/** The per-client log throttle (broker/log-throttle.ts) and the cap on copied device text. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clip, ThrottledLog } from '../../broker/log-throttle.ts';
import { captureLog } from '../fixtures/capture-log.ts';

describe('clip', () => {
  it('keeps short text, cuts long text to 200 characters and says how much more there was', () => {
    expect(clip('short')).toBe('short');
    expect(clip('x'.repeat(200))).toBe('x'.repeat(200));
    expect(clip('x'.repeat(16_000))).toBe(`${'x'.repeat(200)}…(15800 more)`);
    expect(clip('abcdef', 3)).toBe('abc…(3 more)');
  });

  it('shows other values as JSON, leaves undefined out, and never splits a surrogate pair', () => {
    expect(clip({ a: 1 })).toBe('{"a":1}');
    expect(clip(['y'.repeat(300)])!.length).toBeLessThan(220);
    expect(clip(undefined)).toBeUndefined();
    expect(clip(`ab😀cd`, 3)).toBe('ab…(4 more)');
  });
});

describe('ThrottledLog', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = () => {
    const { log, lines } = captureLog();
    return { lines, throttled: new ThrottledLog(log, { now: () => Date.now() }) };
  };

  it('writes one line per key per second and then one "N more suppressed" line', () => {
    const { lines, throttled } = make();
    for (let i = 0; i < 1000; i++) throttled.warn('SPK-1|bad', 'bad things from SPK-1', { i }, `bad thing ${i}`);
    expect(lines.map((l) => l.msg)).toEqual(['bad thing 0']);
    vi.advanceTimersByTime(1000);
    expect(lines.slice(1)).toMatchObject([
      { msg: '999 more suppressed in the last 1 s: bad things from SPK-1', suppressed: 999, i: 999, level: 40 },
    ]);
    throttled.warn('SPK-1|bad', 'bad things from SPK-1', {}, 'bad thing again');
    expect(lines.at(-1)!.msg).toBe('bad thing again');
    vi.advanceTimersByTime(5000);
    expect(lines).toHaveLength(3); // nothing held back, nothing to summarize
  });

  it('keeps keys apart, at their own level', () => {
    const { lines, throttled } = make();
    throttled.warn('a', 'a', {}, 'first a');
    throttled.info('b', 'b', {}, 'first b');
    throttled.info('b', 'b', {}, 'second b');
    vi.advanceTimersByTime(1000);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'first a'],
      [30, 'first b'],
      [30, '1 more suppressed in the last 1 s: b'],
    ]);
  });

  it('caps first lines across keys too: 1,000 clients at once make 71 lines', () => {
    const { lines, throttled } = make();
    for (let i = 0; i < 1000; i++) throttled.warn(`client-${i}`, `client-${i}`, {}, `line ${i}`);
    expect(lines).toHaveLength(50); // the burst
    vi.advanceTimersByTime(1000);
    const summaries = lines.slice(50);
    expect(summaries).toHaveLength(21); // 20 one by one, the rest in one line
    expect(summaries.at(-1)!.msg).toMatch(/^930 more suppressed .* other clients or reasons$/);
    expect(summaries.reduce((n, l) => n + (l.suppressed as number), 0)).toBe(950);
  });
});

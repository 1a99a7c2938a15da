/** Fleet figures that must agree with each other, and the report file checked before a run. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newHistogram, percentileCurve, summarizeHistogram } from '../../tools/fleet/histogram.ts';
import { checkReportTarget } from '../../tools/fleet/report-file.ts';

describe('latency percentiles', () => {
  it('never puts p99.9 above max, though HdrHistogram answers a percentile with the top of its bucket', () => {
    const h = newHistogram();
    for (let i = 0; i < 990; i++) h.recordValue(1000 + i);
    // 61,466 µs sits in the 32 µs bucket 61,440-61,471: the raw percentile reads 61,471.
    for (let i = 0; i < 10; i++) h.recordValue(61_466);
    expect(h.getValueAtPercentile(99.9)).toBe(61_471);
    const s = summarizeHistogram(h);
    expect(s.max).toBe(61.466);
    expect(s.p999).toBe(61.466);
    expect(s.p99).toBeLessThanOrEqual(s.p999);
    expect(Math.max(...percentileCurve(h).map((p) => p.ms))).toBe(61.466);
  });
});

describe('--report PATH', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-report-'));

  it('takes the format from the extension and refuses what it cannot write, naming the fix', () => {
    expect(checkReportTarget(path.join(dir, 'a.HTML'))).toEqual({ file: path.join(dir, 'a.HTML'), format: 'html' });
    expect(checkReportTarget(path.join(dir, 'a.svg')).format).toBe('svg');
    expect(checkReportTarget(path.join(dir, 'a.json')).format).toBe('json');
    expect(() => checkReportTarget(path.join(dir, 'a.pdf'))).toThrow(/\.pdf is none of them/);
    expect(() => checkReportTarget(path.join(dir, 'report'))).toThrow(/it has none/);
    expect(() => checkReportTarget('/nonexistent/r.html')).toThrow(/the folder \/nonexistent does not exist/);
    fs.mkdirSync(path.join(dir, 'x.html'));
    expect(() => checkReportTarget(path.join(dir, 'x.html'))).toThrow(/is a folder/);
  });
});

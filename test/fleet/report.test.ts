/**
 * Fleet figures that must agree with each other, the generator's lag and the warm-up in the
 * report, and the report file checked before a run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newHistogram, percentileCurve, summarizeHistogram } from '../../tools/fleet/histogram.ts';
import { checkReportTarget } from '../../tools/fleet/report-file.ts';
import { buildReport, formatReport, lagWarning, type LoadResult, type ReportInput } from '../../tools/fleet/report.ts';
import { FLEET_DEFAULTS } from '../../tools/fleet/options.ts';
import { recordBatch, Tally } from '../../tools/fleet/tally.ts';

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

describe("the generator's lag behind its schedule", () => {
  const sample = (cpuMs: number) => ({ rss: 100e6, heapUsed: 50e6, external: 1e6, cpuMs });
  const load = { rate: 1000, durationMs: 1000, window: 1000 };
  const input = (loads: ReportInput['loads'], extra: Partial<ReportInput> = {}): ReportInput => ({
    opts: { ...FLEET_DEFAULTS, devices: 10, loads: loads.map((l) => l.load), brokerUrl: null },
    workers: 1,
    brokerUrl: 'mqtt://127.0.0.1:1883',
    connectMs: 1000,
    loads,
    scenario: null,
    startedAt: new Date(0),
    counters: { redelivered: 0, rejected: 0, stray: 0, buttons: 0, reasons: [] },
    generatorCpuMs: 10,
    memory: { workers: { booted: [sample(0)], connected: [sample(100)], end: [sample(300)] }, broker: null },
    ...extra,
  });
  /** A load whose payment i was due at i ms and published `lag(i)` ms later, heard 1 ms after that. */
  const result = (lag: (i: number) => number, n = 1000, tally = new Tally()): LoadResult => {
    for (let i = 0; i < n; i++) tally.recordSent(i, 1000 + i, 1000 + i + lag(i));
    recordBatch([tally], {
      t: 'heard',
      seq: Float64Array.from({ length: n }, (_, i) => tally.base + i),
      at: Float64Array.from({ length: n }, (_, i) => 1000 + i + lag(i) + 1),
      inSummary: new Uint8Array(n),
    });
    return { load, tally, sendMs: 1000, drainedMs: 0, heardWhileSending: n, publishErrors: 0 };
  };

  it('reports p50, p99 and max of published - intended, and warns only when p99 is past 5 ms', () => {
    // 0.5 ms behind for 98 % of the payments, 8 ms for 1.5 %, 20 ms for the last 0.5 %.
    const lag = (i: number) => (i < 980 ? 0.5 : i < 995 ? 8 : 20);
    const report = buildReport(input([result(lag), result(() => 0.25)]));
    const [late, onTime] = report.loads;
    // Within the histogram's 0.1 %: p99 reads the top of the bucket 8 ms falls in.
    expect(late!.generatorLag).toEqual({ p50: 0.5, p99: expect.closeTo(8, 1), max: 20 });
    expect(onTime!.generatorLag).toEqual({ p50: 0.25, p99: 0.25, max: 0.25 });
    expect(lagWarning(late!)).toMatch(/fell behind its schedule \(p99 8\.00 ms, max 20\.0 ms\)/);
    expect(lagWarning(onTime!)).toBeNull();
    const text = formatReport(report);
    expect(text).toContain('generator lag          p50 0.50 ms, p99 8.00 ms, max 20.0 ms behind its schedule');
    expect(text.match(/WARNING: the generator fell behind/g)).toHaveLength(1);
    // The lag is part of the corrected latency (from the schedule), not of the uncorrected one.
    expect(late!.latency.corrected.max).toBe(21);
    expect(late!.latency.uncorrected.max).toBe(1);
  });

  it('has no lag at max rate, where there is no schedule', () => {
    const r = result(() => 0);
    const report = buildReport(input([{ ...r, load: { rate: 'max', durationMs: 1000, window: 10 } }]));
    expect(report.loads[0]!.generatorLag).toBeNull();
    expect(formatReport(report)).not.toContain('generator lag');
  });

  it('leaves the warm-up out of every figure, and says what it was', () => {
    // Payments 0-499 were the warm-up, slow (a cold fleet); the load is 500 onwards.
    const warm = new Tally(0);
    for (let i = 0; i < 500; i++) warm.recordSent(i, i, i + 30);
    const measured = new Tally(500);
    const tallies = [warm, measured];
    recordBatch(tallies, {
      t: 'heard',
      seq: Float64Array.from({ length: 500 }, (_, i) => i),
      at: Float64Array.from({ length: 500 }, (_, i) => i + 250),
      inSummary: new Uint8Array(500),
    });
    expect([warm.heard, measured.heard]).toEqual([500, 0]);
    const warmup = {
      settleS: 0.5,
      quiet: true,
      busiest: 0.05,
      rate: 1000,
      window: null,
      durationS: 0.5,
      sent: 500,
      heard: 500,
    };
    const report = buildReport(
      input([result(() => 0.5, 1000, measured)], {
        warmup,
        // CPU counts from after the warm-up: 150 of the workers' 300 ms were spent before it.
        cpuFrom: { workers: [sample(150)], broker: null },
      }),
    );
    const [l] = report.loads;
    expect(l).toMatchObject({ sent: 1000, heard: 1000, lost: 0 });
    expect(l!.latency.corrected.max).toBe(1.5);
    expect(l!.generatorLag!.max).toBe(0.5);
    expect(report.warmup).toEqual(warmup);
    expect(report.cpuMsPerPayment.workers).toBe(0.15);
    expect(formatReport(report)).toContain(
      'warm-up                  500 payments at 1000/s for 0.5 s, 500 heard, not counted; quiet after 0.5 s',
    );
  });

  it('leaves out end-of-run memory and worker CPU when a worker sent no end sample, rather than print them wrong', () => {
    const tally = new Tally(0);
    for (let i = 0; i < 10; i++) tally.recordSent(i, i, i);
    // Two workers, one end sample: the sum would be half the truth (a 100,000-speaker run printed -11 KB).
    const workers = { booted: [sample(0), sample(0)], connected: [sample(100), sample(100)], end: [sample(300)] };
    const report = buildReport(input([result(() => 1, 10, tally)], { workers: 2, memory: { workers, broker: null } }));
    expect(report.memory.perDeviceKB.rssEnd).toBeNaN();
    expect(report.cpuMsPerPayment.workers).toBeNaN();
    expect(formatReport(report)).toContain('not sampled at the end (a worker missed the stop window)');
    expect(formatReport(report)).toContain('CPU per payment          workers — ms');
  });
});

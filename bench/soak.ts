/**
 * `npm run soak -- --minutes 30`: the soak run (tools/soak/run.ts). A `payspeaker broker`
 * process with the notification API, 200 real speakers in two processes behind the chaos fault
 * proxy, 20 payments/s through the API, memory sampled every 10 s. Prints progress on a
 * terminal (a line per sample otherwise), then the counts and the memory table (JSON with --json).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../tools/cli/duration.ts';
import { randomSeed } from '../tools/chaos/random.ts';
import { RECENT_ACKS } from '../broker/tracker.ts';
import {
  runSoak,
  SOAK_DEFAULTS,
  warmupFor,
  type GrowthBound,
  type MemorySample,
  type SoakProgress,
  type SoakReport,
} from '../tools/soak/run.ts';

const USAGE = `Usage: npm run soak -- [--minutes 30] [--warmup auto] [--max-growth 20%] [--devices 200] [--rate 20]
       [--workers 2] [--mean-fault-after 60s] [--sample-every 10s] [--drain 60s] [--remembered-ids 20]
       [--seed N] [--keep DIR] [--json]
Runs a payspeaker broker process (outbox, API), real speakers in worker processes behind a fault
proxy (random resets, drops and 5 s blackholes; each connection lives --mean-fault-after on
average), and a steady stream of payments through the API, for --minutes. Every --sample-every
it records the RSS and the heap after a full GC of the broker (reported by the broker process
itself) and of the speaker processes (summed). After --warmup the median of the first three
samples is the baseline, the median of the last three the end.

--warmup auto (the default) lasts until the histories that grow by design are full, plus a
minute: the broker's last ${RECENT_ACKS} acks per device and each speaker's --remembered-ids, filled
after max(${RECENT_ACKS}, ids) × devices / rate seconds (1,060 s warm-up at the defaults), at least
2 minutes and at most two thirds of the run. A duration (5m, 0) sets it by hand.

The run fails if a payment is lost or announced twice, or if the broker's or the speakers' RSS
or heap grew from the baseline to the end by more than --max-growth: a percentage of the
baseline (20%) or an amount (64MB). Why 20 %: after the warm-up a healthy process only fills
what is left of its bounded structures, and the bound leaves room for that and for noise: RSS
moves by a few % between samples (the table shows it), and the allocator and V8 keep pages they
once needed. A leak of ~80 bytes or more per payment exceeds 20 % of the broker's ~44 MB heap in
a 30-minute run even after the 1,060 s warm-up (14,800 payments measured). The slope (MB/min) is
printed too: a series still rising at the end of a long run deserves a look even when it is
within the bound.

--remembered-ids (20 here; the firmware's default is 1000): each speaker remembers that many
handled payment ids (about 650 bytes of heap each in these runs), so its memory grows until it
does. At 20/s over 200 speakers, 1000 would take 2.8 hours to fill and a 30-minute run would
see the speakers' heap rise by some 20 MB for that reason alone; 20 fills in 200 s, shortly
after the warm-up. A payment delayed past 20 newer ones to the same speaker (200 s at this
rate) would be refused as a possible replay, and counted lost. Pass 1000 to soak the
firmware's own setting (with a warm-up of 3 h, or a bound in MB that allows for it).

--keep DIR runs in DIR (new or empty) and leaves the broker's database, its memory samples and
its log there. Exit codes: 0 all played once and memory within the bound; 1 lost, twice or
memory grew too much; 2 bad option; 3 the run could not go on (a process crashed or would not start).
`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        minutes: { type: 'string' },
        warmup: { type: 'string' },
        'max-growth': { type: 'string' },
        devices: { type: 'string' },
        rate: { type: 'string' },
        workers: { type: 'string' },
        'mean-fault-after': { type: 'string' },
        'sample-every': { type: 'string' },
        drain: { type: 'string' },
        'remembered-ids': { type: 'string' },
        seed: { type: 'string' },
        keep: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
}

function usageError(message: string): never {
  console.error(`soak: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const { values } = parseOptions();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function positive(name: keyof typeof values, fallback: number, integer = true): number {
  const text = values[name] as string | undefined;
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    usageError(`--${name} ${JSON.stringify(text)} is not a positive ${integer ? 'whole ' : ''}number`);
  return n;
}

function duration(name: keyof typeof values, fallback: number, allowZero = false): number {
  const text = values[name] as string | undefined;
  if (text === undefined) return fallback;
  try {
    return parseDuration(text, `--${name}`, { allowZero });
  } catch (err) {
    return usageError((err as Error).message);
  }
}

function growthBound(text: string | undefined): GrowthBound {
  if (text === undefined) return { percent: 20 };
  const m = /^(\d+(?:\.\d+)?)\s*(%|MB|MiB)$/i.exec(text.trim());
  if (!m) return usageError(`--max-growth ${JSON.stringify(text)}: write a percentage (20%) or megabytes (64MB)`);
  return m[2] === '%' ? { percent: Number(m[1]) } : { bytes: Number(m[1]) * 1024 * 1024 };
}

const minutes = positive('minutes', 30, false);
const durationMs = Math.round(minutes * 60_000);
const devices = positive('devices', SOAK_DEFAULTS.devices);
const rate = positive('rate', SOAK_DEFAULTS.rate, false);
const rememberedIds = positive('remembered-ids', SOAK_DEFAULTS.rememberedIds);
const auto = warmupFor({ devices, rate, rememberedIds, durationMs }, RECENT_ACKS);
const warmupMs = values.warmup === undefined || values.warmup === 'auto' ? auto.warmupMs : duration('warmup', 0, true);
if (warmupMs === auto.warmupMs && auto.capped)
  console.error(
    `soak: the histories fill after ${(auto.fillMs / 1000).toFixed(0)} s, more than two thirds of --minutes ${minutes} allow: the warm-up stops at two thirds of the run, so the measurement includes them filling`,
  );
const sampleMs = duration('sample-every', SOAK_DEFAULTS.sampleMs);
if (warmupMs + 2 * sampleMs > durationMs)
  usageError(
    `--minutes ${minutes} leaves no room after the ${warmupMs / 1000} s warm-up for two samples ${sampleMs / 1000} s apart`,
  );
if (values.keep !== undefined && fs.existsSync(values.keep) && fs.readdirSync(values.keep).length > 0)
  usageError(`--keep ${values.keep} is not empty: give a new or empty folder`);
const seed = values.seed === undefined ? randomSeed() : positive('seed', 1);

// Ctrl-C or a kill: exit through process.exit, so the run's exit hook stops the broker it started.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const progress = progressPrinter(process.stderr);
let report: SoakReport;
try {
  report = await runSoak({
    durationMs,
    warmupMs,
    sampleMs,
    devices,
    rate,
    workers: Math.min(devices, positive('workers', SOAK_DEFAULTS.workers)),
    meanFaultMs: duration('mean-fault-after', SOAK_DEFAULTS.meanFaultMs),
    blackholeMs: SOAK_DEFAULTS.blackholeMs,
    maxGrowth: growthBound(values['max-growth']),
    drainMs: duration('drain', SOAK_DEFAULTS.drainMs, true),
    seed,
    lang: SOAK_DEFAULTS.lang,
    rememberedIds,
    ...(values.keep === undefined ? {} : { dataDir: path.resolve(values.keep) }),
    onProgress: progress.update,
    onSample: progress.sample,
  });
} catch (err) {
  progress.end();
  console.error(`soak: the run could not go on: ${(err as Error).message}`);
  process.exit(3);
}
progress.end();
console.log(values.json ? JSON.stringify(report) : describe(report));
process.exitCode = report.ok ? 0 : 1;

function mb(b: number): string {
  return (b / 1024 / 1024).toFixed(1);
}

function signedMb(b: number): string {
  return `${b >= 0 ? '+' : ''}${mb(b)}`;
}

function progressPrinter(stream: NodeJS.WriteStream) {
  let drawn = false;
  const line = (p: SoakProgress) => {
    const m = p.last;
    const memory = m
      ? `  broker ${m.broker ? `${mb(m.broker.rss)}/${mb(m.broker.heapUsed)}` : '?'} MB  speakers ${mb(m.speakers.rss)}/${mb(m.speakers.heapUsed)} MB (RSS/heap)`
      : '';
    return `soak [${p.phase}] ${(p.elapsedMs / 1000).toFixed(0)} s  online ${p.online}/${p.devices}  paid ${p.accepted}  announced ${p.announced}  faults ${p.faults}${memory}`;
  };
  return {
    update(p: SoakProgress) {
      if (!stream.isTTY) return;
      stream.write(`\r\x1b[2K${line(p)}`);
      drawn = true;
    },
    sample(s: MemorySample) {
      // Off a terminal: one line per sample, so a log of a long run shows how it went.
      if (stream.isTTY) return;
      stream.write(
        `soak ${(s.atMs / 1000).toFixed(0)} s${s.warmup ? ' (warm-up)' : ''}: paid ${s.accepted}, announced ${s.announced}; broker ${s.broker ? `${mb(s.broker.rss)}/${mb(s.broker.heapUsed)}` : '?'} MB, speakers ${mb(s.speakers.rss)}/${mb(s.speakers.heapUsed)} MB (RSS/heap)\n`,
      );
    },
    end() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}

function describe(r: SoakReport): string {
  const faults =
    Object.entries(r.faults)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const bound = 'percent' in r.memory.bound ? `${r.memory.bound.percent}%` : `${mb(r.memory.bound.bytes)} MB`;
  const rows = r.memory.samples.map((s) =>
    [
      `${(s.atMs / 1000).toFixed(0)}${s.warmup ? '*' : ''}`,
      s.broker ? mb(s.broker.rss) : '?',
      s.broker ? mb(s.broker.heapUsed) : '?',
      mb(s.speakers.rss),
      mb(s.speakers.heapUsed),
      String(s.accepted),
      String(s.announced),
    ]
      .map((c, i) => (i === 0 ? c.padStart(6) : c.padStart(10)))
      .join(' '),
  );
  const checks = r.memory.checks.map(
    (c) =>
      `  ${c.ok ? 'ok  ' : 'FAIL'} ${`${c.group} ${c.measure === 'rss' ? 'RSS' : 'heap'}`.padEnd(14)} ${mb(c.baseline)} → ${mb(c.end)} MB (${signedMb(c.growth)} MB, allowed +${mb(c.allowed)}; slope ${signedMb(c.slopePerMinute)} MB/min)`,
  );
  const s = r.statuses;
  return [
    `soak run (seed ${r.seed}): ${r.devices} speakers in ${r.workers} processes, ${r.rate} payments/s for ${(r.durationMs / 60_000).toFixed(1)} min (warm-up ${(r.warmupMs / 1000).toFixed(0)} s) — ${r.ok ? 'OK' : 'FAILED'}`,
    `  payments:  accepted ${r.accepted}, played ${r.played}, lost ${r.lost}, twice ${r.twice}, in a summary ${r.summarized}`,
    `  statuses:  played ${s.played}, duplicate ${s.duplicate}, summarized ${s.summarized}, rejected ${s.rejected}, expired ${s.expired}, still pending ${s.queued + s.delivered}`,
    `  speakers:  redeliveries recognised ${r.speakers.redelivered}, rejected ${r.speakers.rejected}${r.speakers.reasons.length ? ` (${r.speakers.reasons.join('; ')})` : ''}`,
    `  faults:    proxy ${faults}; API retries ${r.apiRetries}`,
    `  memory (MB; broker: ${r.memory.brokerSource}; speakers: the speaker processes' own process.memoryUsage() after a full GC, summed; * = warm-up):`,
    `  ${'t (s)'.padStart(6)} ${'broker RSS'.padStart(10)} ${'broker heap'.padStart(10)} ${'spk RSS'.padStart(10)} ${'spk heap'.padStart(10)} ${'paid'.padStart(10)} ${'announced'.padStart(10)}`,
    ...rows.map((row) => `  ${row}`),
    `  growth from the start of the measurement to its end (median of the first and of the last three samples after the warm-up; bound ${bound}):`,
    ...(checks.length ? checks : ['  FAIL fewer than two samples after the warm-up: nothing to compare']),
    ...r.problems.map((p) => `  problem:   ${p}`),
  ].join('\n');
}

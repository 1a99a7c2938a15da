/**
 * The soak run (issue 12): the whole system for a long time at a steady load, watching memory.
 *
 *   payments ──HTTP──▶ `payspeaker broker` process ──MQTT──▶ fault proxy ──▶ speaker processes
 *   (20/s)               (outbox, API; heap via           (random resets,     (real firmware, N per
 *                         memory-probe.mjs)                drops, blackholes)  process; heap via IPC)
 *
 * Every `sampleMs` the broker's and the speaker processes' RSS and heap (after a full GC) are
 * sampled. After `warmupMs` the first sample is the baseline; at the end, a process group whose
 * RSS or heap grew beyond the bound fails the run, as does any payment not played exactly once.
 *
 * Reused: the chaos run's process wrapper, fault proxy and free ports (tools/chaos), the fleet's
 * forked entry points, ready sink and GC'd memory sample (tools/fleet), the API client.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import {
  ApiRequestError,
  ApiUnreachableError,
  FINAL_STATUSES,
  NotificationApi,
  type PaymentStatus,
} from '../api/client.ts';
import { CHANNELS } from '../../src/protocol/index.ts';
import { createVoice } from '../../src/voice/index.ts';
import type { Language } from '../../src/speech/index.ts';
import { openRegistry } from '../../broker/registry.ts';
import { provisionDevice, readBackendCredentials } from '../../broker/credentials.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { PayspeakerProcess } from '../chaos/processes.ts';
import { startFaultProxy, type FaultProxy, type ProxyStats } from '../chaos/proxy.ts';
import { freePort } from '../chaos/ports.ts';
import { forkEntry, nextMessage, reap } from '../fleet/child.ts';
import type { ProcessSample } from '../fleet/messages.ts';
import type { FromSoakWorker, SoakDevice, SoakWorkerSetup } from './messages.ts';

export interface SoakOptions {
  durationMs: number;
  warmupMs: number;
  devices: number;
  /** Payments per second through the API. */
  rate: number;
  /** Speaker processes the devices are split over. */
  workers: number;
  /** Mean life of a proxied connection before a random fault (reset 3 : drop 1 : blackhole 1). */
  meanFaultMs: number;
  blackholeMs: number;
  sampleMs: number;
  /** Growth allowed from the baseline, per process group and measure. */
  maxGrowth: GrowthBound;
  /** After the last payment, how long to wait for the rest to be announced. */
  drainMs: number;
  seed: number;
  lang: Language;
  rememberedIds: number;
  /** Where the run keeps its data; a temporary folder (removed afterwards) when omitted. */
  dataDir?: string;
  onProgress?: (p: SoakProgress) => void;
  /** Called with every memory sample as it is taken. */
  onSample?: (s: MemorySample) => void;
}

/** `percent` of the baseline, or an absolute number of bytes. */
export type GrowthBound = { percent: number } | { bytes: number };

export interface SoakProgress {
  phase: 'starting' | 'warm-up' | 'measuring' | 'draining' | 'checking';
  elapsedMs: number;
  accepted: number;
  announced: number;
  online: number;
  devices: number;
  faults: number;
  last: MemorySample | null;
}

export interface MemorySample {
  /** Milliseconds since the payments started. */
  atMs: number;
  warmup: boolean;
  broker: { rss: number; heapUsed: number } | null;
  /** Summed over the speaker processes. */
  speakers: { rss: number; heapUsed: number };
  accepted: number;
  announced: number;
}

export interface GrowthCheck {
  group: 'broker' | 'speakers';
  measure: 'rss' | 'heapUsed';
  baseline: number;
  end: number;
  growth: number;
  allowed: number;
  /** Least-squares slope over the measured samples, bytes per minute. */
  slopePerMinute: number;
  ok: boolean;
}

export interface SoakReport {
  ok: boolean;
  seed: number;
  devices: number;
  workers: number;
  rate: number;
  durationMs: number;
  warmupMs: number;
  accepted: number;
  /** Payments the API calls played and a speaker announced exactly once. */
  played: number;
  /** Payments not announced, or not final `played`/`duplicate` by the end of the drain. */
  lost: number;
  /** Payments announced more than once. */
  twice: number;
  /** Heard in a summary instead of on their own (should not happen with summaries off). */
  summarized: number;
  statuses: Record<PaymentStatus, number>;
  speakers: { redelivered: number; rejected: number; reasons: string[] };
  faults: ProxyStats['faults'];
  apiRetries: number;
  memory: { bound: GrowthBound; samples: MemorySample[]; checks: GrowthCheck[]; brokerSource: string };
  /** Up to ten payments lost or twice, for the report. */
  problems: string[];
}

export const SOAK_DEFAULTS = {
  devices: 200,
  rate: 20,
  workers: 2,
  meanFaultMs: 60_000,
  blackholeMs: 5_000,
  sampleMs: 10_000,
  warmupMs: 120_000,
  drainMs: 60_000,
  lang: 'zh-CN' as Language,
  /**
   * Below the firmware's 1000, so each speaker's dedupe memory is full (20 ids at 0.1 payment/s
   * per speaker: 200 s) soon after the warm-up instead of after 2.8 hours; bench/soak.ts says more.
   */
  rememberedIds: 20,
};

const PROBE = pathToFileURL(path.join(import.meta.dirname, 'memory-probe.mjs')).href;

interface Rig {
  dir: string;
  broker: PayspeakerProcess;
  memoryFile: string;
  proxy: FaultProxy;
  api: NotificationApi;
  workers: SpeakerProcess[];
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const temp = opts.dataDir === undefined;
  const dir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-soak-'));
  const progress: SoakProgress = {
    phase: 'starting',
    elapsedMs: 0,
    accepted: 0,
    announced: 0,
    online: 0,
    devices: opts.devices,
    faults: 0,
    last: null,
  };
  const heard = new Map<string, number>();
  const summarized = new Set<string>();
  let rig: Rig | null = null;
  let startedAt = Date.now();
  const tell = () => {
    if (!rig) return opts.onProgress?.(progress);
    progress.elapsedMs = Date.now() - startedAt;
    progress.online = rig.workers.reduce((a, w) => a + w.counters.online, 0);
    progress.faults = Object.values(rig.proxy.stats().faults).reduce((a, b) => a + b, 0);
    opts.onProgress?.({ ...progress });
  };
  const onHeard = (m: { announced: string[]; summarized: string[] }) => {
    for (const id of m.announced) heard.set(id, (heard.get(id) ?? 0) + 1);
    for (const id of m.summarized) summarized.add(id);
    progress.announced += m.announced.length;
  };
  const ticker = setInterval(tell, 1000);
  try {
    rig = await setUp(dir, opts, onHeard, (p) => {
      progress.online = p;
      tell();
    });
    startedAt = Date.now();
    progress.phase = 'warm-up';
    const samples: MemorySample[] = [];
    const sampler = startSampler(rig, opts, startedAt, progress, (s) => {
      samples.push(s);
      progress.last = s;
      opts.onSample?.(s);
    });
    let paid: { ids: string[]; retries: number };
    try {
      paid = await pay(rig, opts, startedAt, progress);
      // A last sample at the end of the load, before the drain changes it.
      await sampler.now();
    } finally {
      sampler.stop();
    }
    progress.phase = 'draining';
    const drainUntil = Date.now() + opts.drainMs;
    while (Date.now() < drainUntil && paid.ids.some((id) => !heard.has(id) && !summarized.has(id))) {
      assertAlive(rig);
      await sleep(500);
    }
    progress.phase = 'checking';
    tell();
    // A speaker's "announced" comes a moment before its played ack reaches the broker: give the
    // statuses still open a few more seconds to become final.
    const statuses = await finalStatuses(rig.api, paid.ids);
    for (let i = 0; i < 30; i++) {
      const open = paid.ids.filter((id) => !FINAL_STATUSES.has(statuses.get(id)!));
      if (open.length === 0) break;
      await sleep(500);
      for (const [id, status] of await finalStatuses(rig.api, open)) statuses.set(id, status);
    }
    return buildReport(opts, rig, paid, statuses, heard, summarized, samples);
  } finally {
    clearInterval(ticker);
    if (rig) await tearDown(rig);
    if (temp) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function setUp(
  dir: string,
  opts: SoakOptions,
  onHeard: (m: { announced: string[]; summarized: string[] }) => void,
  onOnline: (n: number) => void,
): Promise<Rig> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const memoryFile = path.join(dir, 'broker-memory.jsonl');
  fs.mkdirSync(dir, { recursive: true });
  const env = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PROBE}`.trim(),
    PAYSPEAKER_SOAK_MEMORY_FILE: memoryFile,
    PAYSPEAKER_SOAK_MEMORY_MS: String(opts.sampleMs),
  };
  // As the chaos run starts it (outbox and API, retries quick, warnings only), and without the
  // per-address connection rate: every speaker reaches the broker from the proxy's one address,
  // where 200 boxes in the field would come from 200.
  const brokerArgs = [
    'broker',
    '--data',
    dir,
    '--port',
    String(mqttPort),
    '--no-ws-port',
    '--http-port',
    String(httpPort),
    '--retry-after',
    '1s',
    '--retry-max',
    '4s',
    '--connect-rate',
    '0',
    '--json',
    '--log-level',
    'warn',
  ];
  const broker = new PayspeakerProcess(brokerArgs, env, path.join(dir, 'logs', 'broker.log'));
  // If this process ends without tearing down (an exception, process.exit on Ctrl-C), the broker
  // must not live on; the speaker processes exit by themselves when their IPC channel closes.
  const orphanGuard = () => void (broker.running && broker.child.kill('SIGKILL'));
  process.once('exit', orphanGuard);
  broker.child.once('exit', () => process.off('exit', orphanGuard));
  const workers: SpeakerProcess[] = [];
  let proxy: FaultProxy | null = null;
  try {
    await broker.waitForEvent((e) => e.event === 'listening');
    proxy = await startFaultProxy({
      target: { host: '127.0.0.1', port: mqttPort },
      seed: opts.seed,
      random: { meanMs: opts.meanFaultMs, weights: { reset: 3, drop: 1, blackhole: 1 }, blackholeMs: opts.blackholeMs },
    });
    const devices = provision(dir, opts.devices);
    const publicKeyPem = loadOrCreateBackendKeys(brokerDir(dir)).publicKeyPem;
    // Recorded once here on first use, not by every worker at the same time.
    await createVoice('clips', { langs: [opts.lang] });
    const per = Math.ceil(devices.length / opts.workers);
    for (let w = 0; w < opts.workers && w * per < devices.length; w++)
      workers.push(
        new SpeakerProcess(w + 1, onHeard, () => onOnline(workers.reduce((a, x) => a + x.counters.online, 0))),
      );
    await Promise.all(
      workers.map((worker, w) =>
        worker.boot({
          brokerUrl: proxy!.mqttUrl,
          devices: devices.slice(w * per, (w + 1) * per),
          lang: opts.lang,
          publicKeyPem,
          rememberedIds: opts.rememberedIds,
          connectConcurrency: 20,
        }),
      ),
    );
    const api = new NotificationApi(`http://127.0.0.1:${httpPort}`, readBackendCredentials(dir)!.password);
    return { dir, broker, memoryFile, proxy, api, workers };
  } catch (err) {
    await Promise.all(workers.map((w) => w.stop()));
    await proxy?.close();
    await broker.kill('SIGTERM');
    throw err;
  }
}

async function tearDown(rig: Rig): Promise<void> {
  await Promise.all(rig.workers.map((w) => w.stop()));
  await rig.proxy.close();
  await rig.broker.kill('SIGTERM');
}

/** What `payspeaker provision` does, for every speaker at once. */
function provision(dir: string, count: number): SoakDevice[] {
  const registry = openRegistry(dir);
  try {
    return Array.from({ length: count }, (_, i) => {
      const id = `SPK-SOAK-${String(i + 1).padStart(4, '0')}`;
      const { username, password } = provisionDevice(registry, id, { force: true });
      return { id, username, password };
    });
  } finally {
    registry.close();
  }
}

/** One forked speaker process (worker.ts) and what it has reported. */
class SpeakerProcess {
  readonly child: ChildProcess;
  counters = { online: 0, redelivered: 0, rejected: 0, reasons: [] as string[] };
  failure: string | null = null;
  private stopping = false;

  constructor(
    readonly n: number,
    onHeard: (m: { announced: string[]; summarized: string[] }) => void,
    onOnline: () => void,
  ) {
    this.child = forkEntry('../soak/worker.ts', ['--expose-gc']);
    this.child.on('message', (m: FromSoakWorker) => {
      if (m.t === 'heard') onHeard(m);
      else if (m.t === 'counters') {
        this.counters = m;
        onOnline();
      } else if (m.t === 'failed') this.failure = m.message;
    });
    this.child.once('exit', (code, signal) => {
      if (!this.stopping) this.failure ??= `exited on its own (${signal ?? `code ${code}`})`;
    });
  }

  async boot(setup: SoakWorkerSetup): Promise<void> {
    const ready = this.expect('ready', 'starting its speakers');
    this.child.send({ t: 'setup', setup });
    await ready;
  }

  memory(): Promise<ProcessSample> {
    const reply = this.expect('memory', 'sampling memory');
    this.child.send({ t: 'memory' });
    return reply;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.connected) {
      const done = this.expect('stopped', 'stopping').catch(() => undefined);
      this.child.send({ t: 'stop' });
      await Promise.race([done, sleep(30_000)]);
    }
    await reap(this.child, 2000);
  }

  private expect(t: 'ready' | 'memory' | 'stopped', doing: string): Promise<ProcessSample> {
    return nextMessage<FromSoakWorker, { memory?: ProcessSample; failure?: string }>(
      this.child,
      (m) =>
        m.t === t
          ? { memory: 'memory' in m ? m.memory : undefined }
          : m.t === 'failed'
            ? { failure: m.message }
            : undefined,
      `soak speaker process ${this.n} (${doing})`,
    ).then((r) => {
      if (r.failure !== undefined)
        throw new Error(`soak speaker process ${this.n} failed while ${doing}: ${r.failure}`);
      return r.memory!;
    });
  }
}

/** A process that died or failed without being asked ends the run at once, saying why. */
function assertAlive(rig: Rig): void {
  if (rig.broker.crashed) throw new SoakRigError(rig.broker.crashed);
  const failed = rig.workers.find((w) => w.failure !== null);
  if (failed) throw new SoakRigError(`soak speaker process ${failed.n}: ${failed.failure}`);
}

/** The run could not go on (a process crashed, a setting was refused): not a verdict on memory or payments. */
export class SoakRigError extends Error {
  override name = 'SoakRigError';
}

/** Samples memory every `sampleMs` from the start; `now()` takes one more at once. */
function startSampler(
  rig: Rig,
  opts: SoakOptions,
  startedAt: number,
  progress: SoakProgress,
  record: (s: MemorySample) => void,
): { now(): Promise<void>; stop(): void } {
  let busy: Promise<void> = Promise.resolve();
  const take = () =>
    (busy = busy.then(async () => {
      const atMs = Date.now() - startedAt;
      const workers = await Promise.all(rig.workers.map((w) => w.memory())).catch(() => null);
      if (!workers) return;
      record({
        atMs,
        warmup: atMs < opts.warmupMs,
        broker: latestBrokerSample(rig.memoryFile),
        speakers: {
          rss: workers.reduce((a, m) => a + m.rss, 0),
          heapUsed: workers.reduce((a, m) => a + m.heapUsed, 0),
        },
        accepted: progress.accepted,
        announced: progress.announced,
      });
    }));
  const timer = setInterval(() => void take(), opts.sampleMs);
  return {
    now: () => take(),
    stop: () => clearInterval(timer),
  };
}

/** The broker's own last report (memory-probe.mjs), taken at most one sampling period ago. */
function latestBrokerSample(file: string): { rss: number; heapUsed: number } | null {
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    const last = JSON.parse(lines.at(-1)!) as { rss: number; heapUsed: number };
    return { rss: last.rss, heapUsed: last.heapUsed };
  } catch {
    return null;
  }
}

/** Payments at a fixed rate for the duration, round-robin over the speakers; retried while the API is down. */
async function pay(
  rig: Rig,
  opts: SoakOptions,
  startedAt: number,
  progress: SoakProgress,
): Promise<{ ids: string[]; retries: number }> {
  const ids: string[] = [];
  let retries = 0;
  const total = Math.floor((opts.durationMs / 1000) * opts.rate);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  const send = async (i: number) => {
    const body = {
      device: `SPK-SOAK-${String((i % opts.devices) + 1).padStart(4, '0')}`,
      amount: 100 + (i % 100_000),
      currency: 'CNY',
      channel: CHANNELS[i % 2]!,
      idempotencyKey: `soak-${opts.seed}-${i}`,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        ids[i] = (await rig.api.createPayment(body)).payment.id;
        progress.accepted++;
        return;
      } catch (err) {
        const transient = err instanceof ApiUnreachableError || (err instanceof ApiRequestError && err.status >= 500);
        if (!transient || attempt >= 50) throw err;
        retries++;
        await sleep(200);
      }
    }
  };
  for (let i = 0; i < total && failure === null; i++) {
    assertAlive(rig);
    if (Date.now() - startedAt >= opts.warmupMs) progress.phase = 'measuring';
    const p = send(i)
      .catch((err: unknown) => void (failure ??= err))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    // Paced by the clock, not by answers: a slow API must not slow the offered load.
    const due = startedAt + ((i + 1) * 1000) / opts.rate;
    if (due > Date.now()) await sleep(due - Date.now());
    if (inFlight.size > 1000) await Promise.race(inFlight);
  }
  await Promise.allSettled([...inFlight]);
  if (failure !== null) throw failure;
  return { ids, retries };
}

async function finalStatuses(api: NotificationApi, ids: string[]): Promise<Map<string, PaymentStatus>> {
  const statuses = new Map<string, PaymentStatus>();
  for (let i = 0; i < ids.length; i += 50) {
    const batch = ids.slice(i, i + 50);
    const got = await Promise.all(
      batch.map((id) =>
        api.getPayment(id).then(
          (r) => r.payment.status,
          () => 'queued' as const,
        ),
      ),
    );
    got.forEach((s, j) => statuses.set(batch[j]!, s));
  }
  return statuses;
}

function buildReport(
  opts: SoakOptions,
  rig: Rig,
  paid: { ids: string[]; retries: number },
  statuses: Map<string, PaymentStatus>,
  heard: Map<string, number>,
  summarized: Set<string>,
  samples: MemorySample[],
): SoakReport {
  const counts: Record<PaymentStatus, number> = {
    queued: 0,
    delivered: 0,
    played: 0,
    duplicate: 0,
    summarized: 0,
    rejected: 0,
    expired: 0,
  };
  for (const s of statuses.values()) counts[s]++;
  const problems: string[] = [];
  const note = (p: string) => problems.length < 10 && problems.push(p);
  let played = 0;
  let lost = 0;
  let twice = 0;
  for (const id of paid.ids) {
    const n = heard.get(id) ?? 0;
    const status = statuses.get(id);
    if (n > 1) {
      twice++;
      note(`${id} announced ${n} times (status ${status})`);
    } else if (n === 1 && status === 'played') played++;
    if (n === 0 || (status !== 'played' && status !== 'duplicate')) {
      lost++;
      note(`${id}: announced ${n}×, status ${status}${summarized.has(id) ? ', heard in a summary' : ''}`);
    }
  }
  const checks = growthChecks(samples, opts.maxGrowth);
  const speakers = rig.workers.reduce(
    (a, w) => ({
      redelivered: a.redelivered + w.counters.redelivered,
      rejected: a.rejected + w.counters.rejected,
      reasons: [...a.reasons, ...w.counters.reasons].slice(0, 5),
    }),
    { redelivered: 0, rejected: 0, reasons: [] as string[] },
  );
  return {
    ok: lost === 0 && twice === 0 && checks.length > 0 && checks.every((c) => c.ok),
    seed: opts.seed,
    devices: opts.devices,
    workers: rig.workers.length,
    rate: opts.rate,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
    accepted: paid.ids.length,
    played,
    lost,
    twice,
    summarized: summarized.size,
    statuses: counts,
    speakers,
    faults: rig.proxy.stats().faults,
    apiRetries: paid.retries,
    memory: {
      bound: opts.maxGrowth,
      samples,
      checks,
      brokerSource:
        'the broker process itself (tools/soak/memory-probe.mjs): process.memoryUsage() after a full GC, every sample period',
    },
    problems,
  };
}

/**
 * Per group (broker, speakers) and measure (RSS, heap after GC): the median of the first three
 * samples after the warm-up is the baseline, the median of the last three the end (fewer when
 * there are fewer than six); growth beyond the bound fails.
 */
export function growthChecks(samples: MemorySample[], bound: GrowthBound): GrowthCheck[] {
  const measured = samples.filter((s) => !s.warmup);
  if (measured.length < 2) return [];
  const checks: GrowthCheck[] = [];
  for (const group of ['broker', 'speakers'] as const) {
    for (const measure of ['rss', 'heapUsed'] as const) {
      const points = measured
        .map((s) => ({ t: s.atMs, v: s[group]?.[measure] }))
        .filter((p): p is { t: number; v: number } => p.v !== undefined);
      if (points.length < 2) continue;
      // Medians of (up to) three samples at each end: one GC-timed or page-cache blip is not a trend.
      const k = Math.max(1, Math.min(3, Math.floor(points.length / 2)));
      const baseline = median(points.slice(0, k).map((p) => p.v));
      const end = median(points.slice(-k).map((p) => p.v));
      const allowed = 'percent' in bound ? (baseline * bound.percent) / 100 : bound.bytes;
      checks.push({
        group,
        measure,
        baseline,
        end,
        growth: end - baseline,
        allowed,
        slopePerMinute: slope(points) * 60_000,
        ok: end - baseline <= allowed,
      });
    }
  }
  return checks;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Least-squares slope of v over t. */
function slope(points: { t: number; v: number }[]): number {
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

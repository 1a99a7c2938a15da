/**
 * The chaos run: real processes, real faults, and an audit of what the speakers actually said.
 *
 *   payments ──HTTP──▶ broker process (outbox) ──MQTT──▶ fault proxy ──▶ N speaker processes ──▶ WAV files
 *
 * While payments flow at a fixed rate through the API, the proxy resets (and drops) connections at random
 * (seeded), the broker is killed with SIGKILL and restarted once, and one speaker is killed and
 * restarted once. The generator behaves like a real backend: when the API is down it retries
 * the same request with the same idempotency key. At the end every payment must have a final
 * status, and the speakers' audio output (one WAV per announcement, named after the payment)
 * must hold each payment exactly once.
 *
 * Each speaker announces every payment on its own (burst summaries off, stale-after long): so
 * that every payment has its own announcement to count. Summaries have their own tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ApiRequestError,
  ApiUnreachableError,
  FINAL_STATUSES,
  NotificationApi,
  type PaymentHistoryEntry,
  type PaymentStatus,
  type PaymentView,
} from '../api/client.ts';
import { CHANNELS } from '../../src/protocol/index.ts';
import { openRegistry } from '../../broker/registry.ts';
import { provisionDevice, readBackendCredentials } from '../../broker/credentials.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { startFaultProxy, type FaultProxy, type ProxyStats } from './proxy.ts';
import { PayspeakerProcess } from './processes.ts';
import { freePort } from './ports.ts';
import { auditAnnouncements, type AnnouncementAudit } from './audit.ts';

export interface ChaosOptions {
  payments: number;
  devices: number;
  /** Payments per second the generator aims for. */
  rate: number;
  /** Mean time a connection through the proxy lives before a random reset. */
  meanFaultMs: number;
  seed: number;
  killBroker: boolean;
  killDevice: boolean;
  /** How long to wait, after the last payment is accepted, for every one to become final. */
  drainMs: number;
  /** Where the run keeps its data; a temporary folder (removed afterwards) when omitted. */
  dataDir?: string;
  onProgress?: (p: ChaosProgress) => void;
}

export interface ChaosProgress {
  phase: 'starting' | 'paying' | 'draining' | 'auditing';
  accepted: number;
  final: number;
  payments: number;
  faults: number;
  brokerKills: number;
  deviceKills: number;
}

export interface ChaosReport {
  payments: number;
  devices: number;
  seed: number;
  statuses: Record<PaymentStatus, number>;
  audio: AnnouncementAudit;
  faults: { injected: ProxyStats['faults']; brokerKills: number; deviceKills: number; apiRetries: number };
  durationMs: number;
  /** Payments accepted per second while the generator ran. */
  acceptedPerSecond: number;
  /** Payments from the first accepted to the last final, per second. */
  finalPerSecond: number;
  /** Every payment final, none expired or rejected, each played one announced exactly once, nothing extra. */
  ok: boolean;
  /** Why payments did not end `played`: counts per speaker and cause, worst first, and a few examples. */
  unplayed: { causes: UnplayedCause[]; examples: UnplayedExample[] };
}

export interface UnplayedCause {
  device: string;
  status: PaymentStatus;
  /** The speaker's reason (rejected), or null. */
  reason: string | null;
  count: number;
}

export interface UnplayedExample {
  payment: PaymentView;
  history: PaymentHistoryEntry[];
}

/** How many unplayed payments the report shows in full, with their history. */
const UNPLAYED_EXAMPLES = 5;

export const CHAOS_DEFAULTS: Omit<ChaosOptions, 'seed'> = {
  payments: 1000,
  devices: 10,
  rate: 50,
  meanFaultMs: 3000,
  killBroker: true,
  killDevice: true,
  drainMs: 60_000,
};

interface Rig {
  dir: string;
  brokerArgs: string[];
  broker: PayspeakerProcess;
  proxy: FaultProxy;
  api: NotificationApi;
  devices: PayspeakerProcess[];
  deviceIds: string[];
  /** Set by tearDown: sends stop retrying, and a restart that finishes late stops what it started. */
  stopped: boolean;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const temp = opts.dataDir === undefined;
  const dir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-chaos-'));
  const progress: ChaosProgress = {
    phase: 'starting',
    accepted: 0,
    final: 0,
    payments: opts.payments,
    faults: 0,
    brokerKills: 0,
    deviceKills: 0,
  };
  const tell = () => opts.onProgress?.({ ...progress, faults: rig ? totalFaults(rig.proxy) : 0 });
  let rig: Rig | null = null;
  try {
    rig = await setUp(dir, opts);
    progress.phase = 'paying';
    const ticker = setInterval(tell, 1000);
    try {
      const paid = await generate(rig, opts, progress);
      progress.phase = 'draining';
      const statuses = await drain(rig, paid.ids, opts.drainMs, progress);
      const lastFinal = Date.now();
      progress.phase = 'auditing';
      tell();
      const audio = auditAnnouncements(
        rig.deviceIds.map((id) => wavDir(dir, id)),
        paid.ids,
        statuses,
      );
      const counts = countStatuses(statuses);
      const unplayed = await explainUnplayed(rig.api, statuses);
      const report: ChaosReport = {
        payments: opts.payments,
        devices: opts.devices,
        seed: opts.seed,
        statuses: counts,
        audio,
        faults: {
          injected: rig.proxy.stats().faults,
          brokerKills: progress.brokerKills,
          deviceKills: progress.deviceKills,
          apiRetries: paid.retries,
        },
        durationMs: Date.now() - started,
        acceptedPerSecond: round(opts.payments / ((paid.endedAt - paid.startedAt) / 1000)),
        finalPerSecond: round(opts.payments / ((lastFinal - paid.startedAt) / 1000)),
        ok: false,
        unplayed,
      };
      report.ok = isClean(report);
      return report;
    } finally {
      clearInterval(ticker);
    }
  } finally {
    if (rig) await tearDown(rig);
    if (temp) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function setUp(dir: string, opts: ChaosOptions): Promise<Rig> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
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
    '--json',
    '--log-level',
    'warn',
  ];
  const broker = await startBroker(brokerArgs, dir);
  const proxy = await startFaultProxy({
    target: { host: '127.0.0.1', port: mqttPort },
    seed: opts.seed,
    random: { meanMs: opts.meanFaultMs, weights: { reset: 3, drop: 1 } },
  });
  const deviceIds = Array.from({ length: opts.devices }, (_, i) => `SPK-CHAOS-${String(i + 1).padStart(3, '0')}`);
  provision(dir, deviceIds, proxy.mqttUrl);
  const devices = await Promise.all(deviceIds.map((id) => startDevice(dir, id)));
  const api = new NotificationApi(`http://127.0.0.1:${httpPort}`, readBackendCredentials(dir)!.password);
  return { dir, brokerArgs, broker, proxy, api, devices, deviceIds, stopped: false };
}

async function tearDown(rig: Rig): Promise<void> {
  rig.stopped = true;
  await Promise.all(rig.devices.map((d) => d.kill('SIGTERM')));
  await rig.proxy.close();
  await rig.broker.kill('SIGTERM');
}

async function startBroker(args: string[], dir: string): Promise<PayspeakerProcess> {
  const broker = new PayspeakerProcess(args, process.env, logFile(dir, 'broker'));
  await broker.waitForEvent((e) => e.event === 'listening');
  return broker;
}

/** What `payspeaker provision` does, for N speakers at once: registry entries and config files whose broker is the proxy. */
function provision(dir: string, ids: string[], brokerUrl: string): void {
  const backendPublicKey = loadOrCreateBackendKeys(brokerDir(dir)).publicKeyPem;
  const registry = openRegistry(dir);
  try {
    for (const id of ids) {
      const { username, password } = provisionDevice(registry, id, { force: true });
      fs.writeFileSync(
        configFile(dir, id),
        JSON.stringify({ id, broker: brokerUrl, username, password, backendPublicKey }),
        { mode: 0o600 },
      );
    }
  } finally {
    registry.close();
  }
}

async function startDevice(dir: string, id: string): Promise<PayspeakerProcess> {
  const args = [
    'device',
    '--config',
    configFile(dir, id),
    '--audio',
    `file:${wavDir(dir, id)}`,
    '--data-dir',
    path.join(dir, 'speakers'),
    '--burst-depth',
    '100000',
    '--stale-after',
    '1h',
    '--json',
    '--log-level',
    'warn',
  ];
  const device = new PayspeakerProcess(args, process.env, logFile(dir, id));
  await device.waitForEvent((e) => e.event === 'online', 60_000);
  return device;
}

const configFile = (dir: string, id: string) => path.join(dir, `${id}.json`);
const wavDir = (dir: string, id: string) => path.join(dir, 'wav', id);
/** Each process's stderr (pino at warn), kept with the run's data (see `--keep`). */
const logFile = (dir: string, name: string) => path.join(dir, 'logs', `${name}.log`);

/**
 * Sends the payments at the target rate, round-robin over the speakers, each with its own
 * idempotency key; an API that is down (the broker being killed) gets the same request again.
 * Kills the broker at 40 % and a speaker at 60 %.
 */
async function generate(rig: Rig, opts: ChaosOptions, progress: ChaosProgress) {
  const ids: string[] = new Array(opts.payments);
  const startedAt = Date.now();
  let retries = 0;
  let next = 0;
  const faults: Promise<void>[] = [];
  const killBrokerAt = opts.killBroker ? Math.floor(opts.payments * 0.4) : -1;
  const killDeviceAt = opts.killDevice ? Math.floor(opts.payments * 0.6) : -1;
  const send = async (i: number) => {
    const device = rig.deviceIds[i % rig.deviceIds.length]!;
    const body = {
      device,
      amount: 100 + (i % 100_000),
      currency: 'CNY',
      channel: CHANNELS[i % 2]!,
      idempotencyKey: `chaos-${opts.seed}-${i}`,
    };
    for (;;) {
      try {
        ids[i] = (await rig.api.createPayment(body)).payment.id;
        progress.accepted++;
        return;
      } catch (err) {
        if (err instanceof ApiRequestError && err.status < 500) throw err;
        if (!(err instanceof ApiUnreachableError || err instanceof ApiRequestError)) throw err;
        if (rig.stopped) throw new Error('the chaos run was stopped', { cause: err });
        assertAlive(rig);
        retries++;
        await sleep(200);
      }
    }
  };
  const inFlight = new Set<Promise<void>>();
  // The first failure of any send or restart ends the run; every later one is only waited for.
  let failure: unknown = null;
  const track = (work: Promise<void>) => work.catch((err: unknown) => void (failure ??= err));
  try {
    while (next < opts.payments && failure === null) {
      assertAlive(rig);
      const i = next++;
      if (i === killBrokerAt) faults.push(track(restartBroker(rig, progress)));
      if (i === killDeviceAt) faults.push(track(restartDevice(rig, opts.seed, progress)));
      const p = track(send(i)).finally(() => inFlight.delete(p));
      inFlight.add(p);
      // Paced by the clock, not by answers: a slow API must not slow the offered load.
      const due = startedAt + ((i + 1) * 1000) / opts.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      if (inFlight.size > 2000) await Promise.race(inFlight);
    }
  } finally {
    if (failure !== null || next < opts.payments) rig.stopped = true;
    await Promise.allSettled([...inFlight, ...faults]);
  }
  if (failure !== null) throw failure;
  return { ids, retries, startedAt, endedAt: Date.now() };
}

/** A process that died without being killed ends the run at once, saying why (else the run waits for ever). */
function assertAlive(rig: Rig): void {
  const crash = [rig.broker, ...rig.devices].map((p) => p.crashed).find((c) => c !== null);
  if (crash) throw new Error(crash);
}

async function restartBroker(rig: Rig, progress: ChaosProgress): Promise<void> {
  await rig.broker.kill('SIGKILL');
  progress.brokerKills++;
  rig.broker = await startBroker(rig.brokerArgs, rig.dir);
  if (rig.stopped) await rig.broker.kill('SIGTERM');
}

async function restartDevice(rig: Rig, seed: number, progress: ChaosProgress): Promise<void> {
  const k = seed % rig.devices.length;
  await rig.devices[k]!.kill('SIGKILL');
  progress.deviceKills++;
  await sleep(1000);
  rig.devices[k] = await startDevice(rig.dir, rig.deviceIds[k]!);
  if (rig.stopped) await rig.devices[k]!.kill('SIGTERM');
}

/** Follows every payment to a final status, or until `drainMs` passes. */
async function drain(
  rig: Rig,
  ids: string[],
  drainMs: number,
  progress: ChaosProgress,
): Promise<Map<string, PaymentStatus>> {
  const { api } = rig;
  const statuses = new Map<string, PaymentStatus>();
  const deadline = Date.now() + drainMs;
  let open = ids;
  let final = 0;
  while (open.length > 0 && Date.now() < deadline) {
    assertAlive(rig);
    const still: string[] = [];
    for (let i = 0; i < open.length; i += 50) {
      const batch = open.slice(i, i + 50);
      const got = await Promise.all(
        batch.map((id) =>
          api.getPayment(id).then(
            (r) => r.payment.status,
            () => 'queued' as const,
          ),
        ),
      );
      got.forEach((status, j) => {
        statuses.set(batch[j]!, status);
        if (FINAL_STATUSES.has(status)) progress.final = ++final;
        else still.push(batch[j]!);
      });
    }
    open = still;
    if (open.length > 0) await sleep(500);
  }
  // "duplicate" (the device had it already) is final, but the device's own "played" ack may be
  // a moment behind it, still being resent after a reconnect: give those a last look.
  await sleep(3000);
  const duplicates = [...statuses].filter(([, s]) => s === 'duplicate').map(([id]) => id);
  for (const id of duplicates)
    statuses.set(
      id,
      await api.getPayment(id).then(
        (r) => r.payment.status,
        () => 'duplicate' as const,
      ),
    );
  return statuses;
}

/** Looks up every payment that did not end `played` and groups them by speaker and cause. */
async function explainUnplayed(
  api: NotificationApi,
  statuses: Map<string, PaymentStatus>,
): Promise<ChaosReport['unplayed']> {
  const ids = [...statuses].filter(([, s]) => s !== 'played').map(([id]) => id);
  const causes = new Map<string, UnplayedCause>();
  const examples: UnplayedExample[] = [];
  for (let i = 0; i < ids.length; i += 50) {
    const views = await Promise.all(ids.slice(i, i + 50).map((id) => api.getPayment(id).catch(() => null)));
    for (const view of views) {
      if (!view) continue;
      const { device, status, reason = null } = view.payment;
      const key = `${device} ${status} ${reason}`;
      const cause = causes.get(key) ?? { device, status, reason, count: 0 };
      cause.count += 1;
      causes.set(key, cause);
      if (examples.length < UNPLAYED_EXAMPLES) examples.push(view);
    }
  }
  return { causes: [...causes.values()].sort((a, b) => b.count - a.count), examples };
}

function countStatuses(statuses: Map<string, PaymentStatus>): Record<PaymentStatus, number> {
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
  return counts;
}

function isClean(r: ChaosReport): boolean {
  const s = r.statuses;
  const final = s.played + s.duplicate + s.summarized + s.rejected + s.expired;
  return (
    final === r.payments &&
    s.rejected === 0 &&
    s.expired === 0 &&
    s.summarized === 0 &&
    r.audio.twice === 0 &&
    r.audio.missing === 0 &&
    r.audio.unexpected === 0
  );
}

function totalFaults(proxy: FaultProxy): number {
  return Object.values(proxy.stats().faults).reduce((a, b) => a + b, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number) => Math.round(n * 10) / 10;

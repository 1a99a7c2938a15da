/**
 * One fleet run: a broker (the embedded aedes in its own process, or the one at `brokerUrl`),
 * worker processes holding the virtual speakers, and the payment generator in this process.
 * Connect everything, offer the load, wait for the stragglers, and return the report.
 */
import os from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { publicKeyToString } from '../../src/protocol/signing-node.ts';
import { createVoice } from '../../src/voice/index.ts';
import { startBrokerProcess, type BrokerProcess } from './broker-process.ts';
import { preciseNow } from './clock.ts';
import { PaymentGenerator } from './generator.ts';
import { newRunId } from './ids.ts';
import type { ProcessSample } from './messages.ts';
import { WorkerPool } from './pool.ts';
import { buildReport, type FleetReport, type LoadResult } from './report.ts';
import { recordBatch, Tally } from './tally.ts';
import type { FleetOptions } from './options.ts';

export { DEFAULT_WINDOW, FLEET_DEFAULTS, type FleetOptions } from './options.ts';

/** Sockets a worker may hold, well under the usual 20,000 (or lower) open-file limit. */
const DEVICES_PER_WORKER_MAX = 8000;

export type FleetPhase = 'starting' | 'connecting' | 'sending' | 'draining' | 'stopping';

export interface FleetSnapshot {
  phase: FleetPhase;
  devices: number;
  connected: number;
  /** The current load's figures. */
  sent: number;
  heard: number;
  duplicates: number;
  /** Not heard `drainMs` after it was due (a rejected payment is never heard). */
  lost: number;
  tally: Tally;
}

export function workerCount(devices: number, workers: number | 'auto'): number {
  const wanted = workers === 'auto' ? os.availableParallelism() : workers;
  return Math.max(1, Math.min(devices, Math.max(wanted, Math.ceil(devices / DEVICES_PER_WORKER_MAX))));
}

export async function runFleet(
  opts: FleetOptions,
  onProgress: (s: FleetSnapshot) => void = () => {},
): Promise<FleetReport> {
  if (opts.loads.length === 0) throw new Error('runFleet: give at least one load');
  const runId = newRunId();
  const workers = workerCount(opts.devices, opts.workers);
  const tallies: Tally[] = [new Tally(0)];
  const current = () => tallies[tallies.length - 1]!;
  let phase: FleetPhase = 'starting';
  let generator: PaymentGenerator | null = null;
  const pool = new WorkerPool(opts.devices, workers, (batch) => {
    recordBatch(tallies, batch);
    generator?.heard();
  });
  const snapshot = (): FleetSnapshot => {
    const tally = current();
    const { sent, heard, duplicates } = tally;
    return {
      phase,
      devices: opts.devices,
      connected: pool.connected,
      sent,
      heard,
      duplicates,
      lost: tally.unheardBefore(preciseNow() - opts.drainMs),
      tally,
    };
  };
  const ticker = setInterval(() => onProgress(snapshot()), 250);
  let broker: BrokerProcess | null = null;
  let client: MqttClient | null = null;
  try {
    broker = opts.brokerUrl ? null : await startBrokerProcess();
    const brokerUrl = opts.brokerUrl ?? broker!.url;
    const brokerBooted = broker ? await broker.memory() : null;
    const keys = opts.signed && opts.mode === 'speakers' ? generateKeyPairSync('ed25519') : null;
    // The backend connects first: an unreachable broker fails here, not as devices retrying forever.
    client = await connectOnce(brokerUrl, { clientId: `payspeaker-fleet-${runId}`, keepalive: 120 });

    // Recorded once here on first use, not by every worker at the same time.
    if (opts.mode === 'speakers') await createVoice('clips', { langs: [opts.lang] });
    await pool.boot({
      mode: opts.mode,
      brokerUrl,
      prefix: opts.prefix,
      lang: opts.lang,
      runId,
      publicKeyPem: keys ? publicKeyToString(keys.publicKey) : null,
      connectConcurrency: opts.connectConcurrency,
    });
    phase = 'connecting';
    const connectStart = preciseNow();
    await pool.connect();
    const connectMs = preciseNow() - connectStart;
    const brokerConnected = broker ? await broker.memory() : null;
    const generatorCpu = process.cpuUsage();

    const loads: LoadResult[] = [];
    for (const [i, load] of opts.loads.entries()) {
      if (i > 0) tallies.push(new Tally(current().base + current().sent));
      const tally = current();
      phase = 'sending';
      generator = new PaymentGenerator(client, tally, {
        ...load,
        ...opts,
        runId,
        seed: opts.seed + i,
        privateKey: keys?.privateKey ?? null,
      });
      await generator.run();
      const sendMs = preciseNow() - generator.startTime;
      phase = 'draining';
      const drainUntil = preciseNow() + opts.drainMs;
      while (tally.heard < tally.sent && preciseNow() < drainUntil) await new Promise((r) => setTimeout(r, 20));
      const drainedMs = preciseNow() - generator.startTime - sendMs;
      const start = generator.startTime;
      loads.push({
        load,
        tally,
        sendMs,
        drainedMs,
        heardWhileSending: tally.heardBetween(start, start + sendMs),
        publishErrors: generator.publishErrors,
      });
    }

    phase = 'stopping';
    const { user, system } = process.cpuUsage(generatorCpu);
    const brokerEnd = broker ? await broker.memory() : null;
    await pool.stop();
    onProgress(snapshot());
    return buildReport({
      opts,
      workers,
      brokerUrl: opts.brokerUrl ?? `${brokerUrl} (embedded aedes)`,
      connectMs,
      loads,
      counters: pool.totals,
      generatorCpuMs: (user + system) / 1000,
      memory: {
        workers: pool.memory,
        broker:
          brokerBooted && brokerConnected && brokerEnd
            ? { booted: brokerBooted, connected: brokerConnected, end: brokerEnd }
            : null,
      },
    });
  } finally {
    clearInterval(ticker);
    if (client) await endClient(client);
    await pool.stop().catch(() => undefined);
    await broker?.stop();
  }
}

export type { ProcessSample };

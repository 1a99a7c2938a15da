/**
 * One fleet run: a broker (the embedded aedes in its own process, or the one at `brokerUrl`),
 * worker processes holding the virtual speakers, and the payment generator in this process.
 * Connect everything, offer the load, wait for the stragglers, and return the report. A
 * scenario adds a payment mix, fault proxies in front of the broker for groups of speakers
 * (network.ts) and button presses (buttons.ts), and its own report (scenario-report.ts).
 */
import os from 'node:os';
import { generateKeyPairSync } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { connectOnce, endClient, tlsClientOptions } from '../../src/mqtt/connect.ts';
import { publicKeyToString } from '../../src/protocol/signing-node.ts';
import { createVoice } from '../../src/voice/index.ts';
import { startBrokerShards, type BrokerShards } from './broker-shards.ts';
import { clockOffset, preciseNow } from './clock.ts';
import { PaymentGenerator, type Load } from './generator.ts';
import { newRunId } from './ids.ts';
import type { ProcessSample } from './messages.ts';
import { WorkerPool } from './pool.ts';
import { buildReport, type FleetReport, type LoadResult } from './report.ts';
import { recordBatch, Tally } from './tally.ts';
import type { FleetOptions } from './options.ts';
import { fleetSecurity, type FleetSecurity } from './credentials.ts';
import { languagesOf, PaymentMix } from './mix.ts';
import { FleetNetwork, groupSpecs, planGroups } from './network.ts';
import { ButtonPresser } from './buttons.ts';
import { ScenarioError } from './scenario.ts';
import { scenarioReport, type ScenarioReport } from './scenario-report.ts';
import { chooseSourceAddresses } from './source-addresses.ts';
import { ReconnectStorm } from './storm.ts';
import { drainWarmup, settle, SETTLE_MAX_MS, warmupLoad, warmupReport, type WarmupReport } from './warmup.ts';

export { DEFAULT_WINDOW, FLEET_DEFAULTS, type FleetOptions } from './options.ts';

/** Sockets a worker may hold, well under the usual 20,000 (or lower) open-file limit. */
const DEVICES_PER_WORKER_MAX = 8000;

export type FleetPhase = 'starting' | 'connecting' | 'settling' | 'warming up' | 'sending' | 'draining' | 'stopping';

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
  const { scenario, loads, langs, mix, security, groups, routes } = plan(opts);
  const speakers = opts.mode === 'speakers';
  const runId = newRunId();
  const startedAt = new Date();
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
  let broker: BrokerShards | null = null;
  let client: MqttClient | null = null;
  let network: FleetNetwork | null = null;
  let buttons: ButtonPresser | null = null;
  const storm =
    opts.reconnectStormMs === null ? null : new ReconnectStorm(pool, opts.reconnectStormMs, opts.devices, opts.mode);
  try {
    // A secure broker's speakers trust its backend key; otherwise a fresh key made for the run,
    // which the embedded broker also signs its time answers with (else every speaker would
    // refuse them and keep asking: 10,000 requests at 5 s, 15 s, 35 s… into the measurement).
    const keys =
      !opts.signed || !speakers
        ? null
        : security
          ? { privateKey: security.privateKey!, publicKeyPem: security.publicKeyPem }
          : freshKeys();
    const timeKeyPem = keys && !security ? (keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string) : null;
    broker = opts.brokerUrl ? null : await startBrokerShards(timeKeyPem, opts.devices, workers, opts.prefix);
    const brokerUrl = opts.brokerUrl ?? broker!.url;
    const brokerBooted = broker ? await broker.memory() : null;
    // The backend connects first: an unreachable broker, or one that refuses the credentials,
    // fails here rather than as devices retrying forever.
    client = await connectOnce(
      brokerUrl,
      {
        clientId: `payspeaker-fleet-${runId}`,
        keepalive: 120,
        ...(security?.backend ?? {}),
        ...tlsClientOptions(brokerUrl, opts.ca?.pem),
      },
      undefined,
      opts.ca?.file,
    );
    // Past one process's open-file limit the embedded broker is sharded: publish to each speaker's shard.
    const publisher = broker ? await broker.publisher(client, `payspeaker-fleet-${runId}`) : client;
    if (groups.length > 0) network = await FleetNetwork.start(brokerUrl, groups, opts.seed);

    // Recorded once here on first use, not by every worker at the same time.
    if (speakers) await createVoice('clips', { langs: [...new Set(langs)] });
    await pool.boot({
      mode: opts.mode,
      clockOffset: clockOffset(),
      brokerUrl,
      prefix: opts.prefix,
      lang: opts.lang,
      runId,
      publicKeyPem: keys?.publicKeyPem ?? null,
      connectConcurrency: opts.connectConcurrency,
      perDevice: {
        langs: scenario?.languages ? langs : null,
        routes: groups.length > 0 ? routes : null,
        passwords: security?.passwords ?? null,
      },
      routeUrls: network?.urls.slice(1) ?? [],
      caPem: opts.ca?.pem ?? null,
      sourceAddresses: chooseSourceAddresses(brokerUrl, opts.devices, opts.sourceAddresses),
      workerBrokerUrls: broker?.workerUrls(workers),
    });
    phase = 'connecting';
    const connectStart = preciseNow();
    await pool.connect();
    const connectMs = preciseNow() - connectStart;
    const brokerConnected = broker ? await broker.memory() : null;
    const generatorFor = (tally: Tally, load: Load, seed: number) =>
      new PaymentGenerator(publisher, tally, {
        ...opts,
        ...load,
        mix,
        runId,
        seed,
        privateKey: keys?.privateKey ?? null,
      });

    // Settle, then warm up on a tally of its own (warmup.ts); the loads' tallies start after it.
    let warmup: WarmupReport | null = null;
    if (opts.warmupMs > 0) {
      phase = 'settling';
      const settled = await settle(SETTLE_MAX_MS);
      phase = 'warming up';
      const load = warmupLoad(loads[0]!, opts.warmupMs);
      generator = generatorFor(current(), load, opts.seed + loads.length);
      await generator.run();
      await drainWarmup(current(), opts.drainMs);
      warmup = warmupReport(settled, load, current());
      tallies.push(new Tally(current().sent));
    }
    // CPU per payment counts from here: the warm-up's payments are in no figure.
    const cpuFrom = warmup
      ? { workers: await pool.sampleMemory(), broker: broker ? await broker.memory() : null }
      : null;
    const generatorCpu = process.cpuUsage();

    const results: LoadResult[] = [];
    let scenarioResult: ScenarioReport | null = null;
    for (const [i, load] of loads.entries()) {
      if (i > 0) tallies.push(new Tally(current().base + current().sent));
      const tally = current();
      phase = 'sending';
      generator = generatorFor(tally, load, opts.seed + i);
      if (scenario) {
        buttons = new ButtonPresser(scenario.buttons, opts.devices, opts.seed, (d, b) => pool.press(d, b));
        network?.begin();
        buttons.begin();
      }
      if (i === 0) storm?.arm();
      await generator.run();
      buttons?.stop();
      const sendMs = preciseNow() - generator.startTime;
      phase = 'draining';
      if (i === 0) await storm?.settle(); // the last device back before the drain's clock starts
      const drainUntil = preciseNow() + opts.drainMs;
      while (tally.heard < tally.sent && preciseNow() < drainUntil) await new Promise((r) => setTimeout(r, 20));
      const drainedMs = preciseNow() - generator.startTime - sendMs;
      const start = generator.startTime;
      if (scenario) {
        const g = generator;
        scenarioResult = scenarioReport({
          scenario,
          tally,
          startedAt: start,
          deviceOfSeq: (seq) => g.deviceOfSeq(seq),
          groups,
          events: network?.events() ?? [],
          pressed: buttons?.pressed ?? {},
          buttonsAnswered: pool.totals.buttons,
        });
      }
      results.push({
        load,
        tally,
        sendMs,
        drainedMs,
        heardWhileSending: tally.heardBetween(start, start + sendMs),
        publishErrors: generator.publishErrors,
      });
    }

    const stormResult = (await storm?.report(results[0]!.tally)) ?? null;
    phase = 'stopping';
    const { user, system } = process.cpuUsage(generatorCpu);
    const brokerEnd = broker ? await broker.memory() : null;
    await pool.stop();
    onProgress(snapshot());
    return buildReport({
      opts,
      workers,
      brokerUrl: opts.brokerUrl ?? broker!.description,
      connectMs,
      loads: results,
      scenario: scenarioResult,
      storm: stormResult,
      warmup,
      cpuFrom,
      startedAt,
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
    storm?.disarm();
    buttons?.stop();
    if (client) await endClient(client);
    await pool.stop().catch(() => undefined);
    await network?.close();
    await broker?.stop();
  }
}

/**
 * Everything decided before a process starts: the loads (a scenario's phases, or the flags'),
 * each speaker's language and the payment mix, the secure broker's credentials, and which
 * speakers go through which fault proxy. A bad amount or data directory fails here.
 */
function plan(opts: FleetOptions) {
  const scenario = opts.scenario;
  const loads: Load[] = scenario
    ? [
        {
          rate: Math.max(...scenario.schedule.phases.map((p) => Math.max(p.from, p.to))),
          durationMs: scenario.schedule.durationMs,
          window: 0,
          schedule: scenario.schedule,
          name: scenario.name,
        },
      ]
    : opts.loads;
  if (loads.length === 0) throw new Error('runFleet: give at least one load');
  const langs = languagesOf(opts.devices, scenario?.languages, opts.lang);
  let mix: PaymentMix;
  try {
    mix = new PaymentMix(langs, { channels: scenario?.channels, amounts: scenario?.amounts });
  } catch (err) {
    if (err instanceof RangeError) throw new ScenarioError(`${scenario?.file ?? 'scenario'}: ${err.message}`);
    throw err;
  }
  // Before any process starts: a data directory that cannot serve fails here, with its reason.
  const security: FleetSecurity | null = opts.dataDir
    ? fleetSecurity(opts.dataDir, opts.prefix, opts.devices, { signed: opts.signed && opts.mode === 'speakers' })
    : null;
  const { groups, routes } = planGroups(opts.devices, scenario ? groupSpecs(scenario) : [], opts.seed);
  return { scenario, loads, langs, mix, security, groups, routes };
}

function freshKeys() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKeyPem: publicKeyToString(publicKey) };
}

export type { ProcessSample };

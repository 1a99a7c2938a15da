/**
 * The soak run's rig: what it starts before the payments and stops after them. A `payspeaker
 * broker` process (with memory-probe.mjs loaded, so it reports its own memory), the fault proxy
 * in front of it, the provisioned speakers split over speaker processes, and the API client.
 * Also the check that every one of those processes is still alive, and the error that ends the
 * run when one is not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { NotificationApi } from '../api/client.ts';
import { createVoice } from '../../src/voice/index.ts';
import { openRegistry } from '../../broker/registry.ts';
import { provisionDevice, readBackendCredentials } from '../../broker/credentials.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { PayspeakerProcess } from '../chaos/processes.ts';
import { startFaultProxy, type FaultProxy } from '../chaos/proxy.ts';
import { freePort } from '../chaos/ports.ts';
import { runBrokerArgs } from '../chaos/scenario-rig.ts';
import type { SoakDevice } from './messages.ts';
import { SpeakerProcess } from './speaker-process.ts';
import type { SoakOptions } from './types.ts';

const PROBE = pathToFileURL(path.join(import.meta.dirname, 'memory-probe.mjs')).href;

export interface Rig {
  dir: string;
  broker: PayspeakerProcess;
  memoryFile: string;
  proxy: FaultProxy;
  api: NotificationApi;
  workers: SpeakerProcess[];
}

export async function setUp(
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
  const brokerArgs = runBrokerArgs(dir, mqttPort, httpPort, ['--connect-rate', '0']);
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

export async function tearDown(rig: Rig): Promise<void> {
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

/** A process that died or failed without being asked ends the run at once, saying why. */
export function assertAlive(rig: Rig): void {
  if (rig.broker.crashed) throw new SoakRigError(rig.broker.crashed);
  const failed = rig.workers.find((w) => w.failure !== null);
  if (failed) throw new SoakRigError(`soak speaker process ${failed.n}: ${failed.failure}`);
}

/** The run could not go on (a process crashed, a setting was refused): not a verdict on memory or payments. */
export class SoakRigError extends Error {
  override name = 'SoakRigError';
}

/**
 * The embedded broker for a fleet larger than one process may hold. aedes keeps one socket per
 * device, and a process may open only as many files as its limit (RLIMIT_NOFILE): where that
 * can be raised (root with CAP_SYS_RESOURCE, or a hard limit already high enough), this process
 * raises its own before forking and one broker process takes every connection. Where it cannot
 * — a container or VM that drops CAP_SYS_RESOURCE keeps the hard limit where it is, 20,000 on
 * the machine of docs/FLEET.md — the devices are split over several aedes processes ("shards"),
 * each holding whole worker slices, as a sharded broker fleet behind a device-keyed router
 * would. The generator publishes each payment to the shard holding its speaker. Nothing crosses
 * between shards: a speaker's session, its retained state and its payments live in one.
 */
import type { MqttClient } from 'mqtt';
import { connectOnce } from '../../src/mqtt/connect.ts';
import { topics } from '../../src/protocol/index.ts';
import { startBrokerProcess, type BrokerProcess } from './broker-process.ts';
import { deviceId } from './ids.ts';
import type { ProcessSample } from './messages.ts';
import { brokerFilesNeeded, ensureOpenFiles, OpenFilesError, openFilesLimit } from './open-files.ts';

export interface BrokerShards extends BrokerProcess {
  /** One URL per broker process. */
  readonly urls: string[];
  /** What the report calls the broker. */
  readonly description: string;
  /** The URL each worker's speakers connect to, for `workers` workers. */
  workerUrls(workers: number): string[];
  /**
   * The generator's client: `primary` (connected to the first shard) with publish routed by
   * topic to the shard holding that device; the other shards' clients are made here and ended
   * by stop().
   */
  publisher(primary: MqttClient, clientId: string): Promise<MqttClient>;
}

export async function startBrokerShards(
  timeKeyPem: string | null,
  devices: number,
  workers: number,
  prefix: string,
): Promise<BrokerShards> {
  const perWorker = Math.ceil(devices / workers);
  const workersPerShard = shardWidth(devices, perWorker);
  const shards = Math.ceil(workers / workersPerShard);
  const devicesOf = (s: number) =>
    Math.min(devices, (s + 1) * workersPerShard * perWorker) - Math.min(devices, s * workersPerShard * perWorker);
  const started: BrokerProcess[] = [];
  try {
    // One after another: each loads aedes and the broker code on a busy 2-core machine.
    for (let s = 0; s < shards; s++) started.push(await startBrokerProcess(timeKeyPem, devicesOf(s)));
  } catch (err) {
    await Promise.all(started.map((b) => b.stop()));
    throw err;
  }
  const urls = started.map((b) => b.url);
  const extra: MqttClient[] = [];
  const shardOfWorker = (w: number) => Math.floor(w / workersPerShard);
  return {
    url: urls[0]!,
    urls,
    pid: started[0]!.pid,
    description:
      shards === 1
        ? `${urls[0]} (embedded aedes)`
        : `${shards} embedded aedes processes, ${urls[0]} …, up to ${workersPerShard * perWorker} connections each (the open-file limit, docs/FLEET.md)`,
    workerUrls: (n) => Array.from({ length: n }, (_, w) => urls[shardOfWorker(w)]!),
    async memory() {
      return sumSamples(await Promise.all(started.map((b) => b.memory())));
    },
    async publisher(primary, clientId) {
      if (shards === 1) return primary;
      const clients = [primary];
      for (let s = 1; s < shards; s++) {
        const c = await connectOnce(urls[s]!, { clientId: `${clientId}-shard${s + 1}`, keepalive: 120 });
        extra.push(c);
        clients.push(c);
      }
      const byTopic = new Map<string, MqttClient>();
      for (let i = 0; i < devices; i++)
        byTopic.set(topics.notify(deviceId(prefix, i)), clients[shardOfWorker(Math.floor(i / perWorker))]!);
      // The generator (generator.ts) publishes through one MqttClient: this one is the first
      // shard's, its publish sending each payment to the shard that holds the device.
      const router = Object.create(primary) as MqttClient;
      router.publish = ((topic: string, ...rest: unknown[]) =>
        (byTopic.get(topic) ?? primary).publish(topic, ...(rest as [string]))) as MqttClient['publish'];
      return router;
    },
    async stop() {
      // Forced: a polite end waits for acks of in-flight payments, forever if a shard has died.
      await Promise.all(extra.map((c) => new Promise<void>((resolve) => c.end(true, {}, () => resolve()))));
      await Promise.all(started.map((b) => b.stop()));
    },
  };
}

/**
 * Workers per broker process: all of them when one process may hold every connection (raising
 * this process's limit, which the forked brokers inherit, if it must), else as many whole
 * worker slices as fit under the limit there is.
 */
function shardWidth(devices: number, perWorker: number): number {
  try {
    ensureOpenFiles(brokerFilesNeeded(devices), 'the embedded broker');
    return Number.MAX_SAFE_INTEGER;
  } catch (err) {
    if (!(err instanceof OpenFilesError)) throw err;
  }
  const room = openFilesLimit() - brokerFilesNeeded(0);
  if (room < perWorker)
    throw new OpenFilesError(
      `a worker's ${perWorker} devices do not fit in one broker process, which may open ${openFilesLimit()} files: raise the limit (\`ulimit -n ${brokerFilesNeeded(perWorker)}\`) or give more --workers`,
    );
  return Math.floor(room / perWorker);
}

function sumSamples(samples: ProcessSample[]): ProcessSample {
  const sum = (k: keyof ProcessSample) => samples.reduce((a, m) => a + m[k], 0);
  return { rss: sum('rss'), heapUsed: sum('heapUsed'), external: sum('external'), cpuMs: sum('cpuMs') };
}

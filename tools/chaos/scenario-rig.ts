/**
 * The chaos run's processes: the broker process, the fault proxy in front of it and one
 * `payspeaker device` process per speaker (provisioned with the proxy as their broker, each
 * writing a WAV per announcement), started before the payments and stopped after them. Also the
 * faults that are not the proxy's (the broker and a speaker killed with SIGKILL and restarted)
 * and the check that no process died on its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NotificationApi } from '../api/client.ts';
import { openRegistry } from '../../broker/registry.ts';
import { provisionDevice, readBackendCredentials } from '../../broker/credentials.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { startFaultProxy, type FaultProxy } from './proxy.ts';
import { PayspeakerProcess } from './processes.ts';
import { freePort } from './ports.ts';
import type { ChaosOptions, ChaosProgress } from './scenario-types.ts';

export interface Rig {
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

/**
 * How a long run starts its `payspeaker broker`: outbox and API, quick retries, warnings only.
 * Shared with the soak (tools/soak/rig.ts), which adds its own flags.
 */
export function runBrokerArgs(dir: string, mqttPort: number, httpPort: number, extra: string[] = []): string[] {
  return [
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
    ...extra,
    '--json',
    '--log-level',
    'warn',
  ];
}

export async function setUp(dir: string, opts: ChaosOptions): Promise<Rig> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const brokerArgs = runBrokerArgs(dir, mqttPort, httpPort);
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

export async function tearDown(rig: Rig): Promise<void> {
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
export const wavDir = (dir: string, id: string) => path.join(dir, 'wav', id);
/** Each process's stderr (pino at warn), kept with the run's data (see `--keep`). */
const logFile = (dir: string, name: string) => path.join(dir, 'logs', `${name}.log`);

/** A process that died without being killed ends the run at once, saying why (else the run waits for ever). */
export function assertAlive(rig: Rig): void {
  const crash = [rig.broker, ...rig.devices].map((p) => p.crashed).find((c) => c !== null);
  if (crash) throw new Error(crash);
}

export async function restartBroker(rig: Rig, progress: ChaosProgress): Promise<void> {
  await rig.broker.kill('SIGKILL');
  progress.brokerKills++;
  rig.broker = await startBroker(rig.brokerArgs, rig.dir);
  if (rig.stopped) await rig.broker.kill('SIGTERM');
}

export async function restartDevice(rig: Rig, seed: number, progress: ChaosProgress): Promise<void> {
  const k = seed % rig.devices.length;
  await rig.devices[k]!.kill('SIGKILL');
  progress.deviceKills++;
  await sleep(1000);
  rig.devices[k] = await startDevice(rig.dir, rig.deviceIds[k]!);
  if (rig.stopped) await rig.devices[k]!.kill('SIGTERM');
}

export function totalFaults(proxy: FaultProxy): number {
  return Object.values(proxy.stats().faults).reduce((a, b) => a + b, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

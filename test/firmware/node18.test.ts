/**
 * The image on the oldest Node a Pi may have: `image build`'s output laid out as an A/B install
 * (slots/a, boot.cjs, config/device.json from a real provisioned device), a real secure broker
 * on port 0, and `node18 ROOT/boot.cjs` started as systemd would. The speaker comes online with
 * the image's version in its retained state and announces a signed payment as a WAV (also one
 * whose currency has no recorded clip: eSpeak's wasm, carried by the image, says it). Then an
 * update the way flash and OTA do it: a 2.0.0 image in slot b on trial, the running firmware
 * ended; the loader boots slot b, whose firmware comes online and confirms its trial.
 *
 * Skips (saying why) where test/support/node18.ts finds no Node 18.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { readBackendCredentials } from '../../broker/credentials.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { buildImage, type BuiltImage } from '../../tools/image/build.ts';
import { signImageDir } from '../../tools/image/manifest.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { topics } from '../../src/protocol/index.ts';
import { beginTrial, initialState, readState, rootPaths, writeState } from '../../device/boot/slots.ts';
import { CliProcess, cleanEnv, runCli } from '../support/cli.ts';
import { until } from '../support/mqtt.ts';
import { findNode18 } from '../support/node18.ts';
import { alive, startLoader, tempRoot, type LineProcess } from './helpers.ts';

const DEVICE = 'SPK-N18';
const node18 = await findNode18();
if (!node18.ok) console.warn(`skipping the Node 18 firmware test: ${node18.reason}`);

let dir: string;
let root: string;
let wavDir: string;
let broker: CliProcess;
let url: string;
let image: BuiltImage;
let loader: LineProcess;
let backend: MqttClient;
const states: { online: boolean; firmware: string }[] = [];

beforeAll(async () => {
  if (!node18.ok) return;
  dir = tempRoot('node18');
  const data = path.join(dir, 'data');
  broker = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--data', data, '--json']);
  url = (await broker.waitForEvent<{ mqtt: string }>((e) => e.event === 'listening')).mqtt;
  const config = path.join(dir, `${DEVICE}.json`);
  const provisioned = await runCli(['provision', DEVICE, '--data', data, '--broker', url, '--out', config]);
  expect(provisioned.code, provisioned.stderr).toBe(0);
  image = await buildImage({ outDir: path.join(dir, 'firmware'), version: '1.0.0', privateKey: loadBackendPrivateKey(brokerDir(data))!, langs: ['en-US'] });

  // The install, as `payspeaker flash` lays it out.
  root = path.join(dir, 'root');
  wavDir = path.join(dir, 'wav');
  const paths = rootPaths(root);
  fs.cpSync(image.dir, paths.slot('a'), { recursive: true });
  fs.copyFileSync(path.join(paths.slot('a'), 'boot.cjs'), paths.loader);
  fs.mkdirSync(path.dirname(paths.config), { recursive: true });
  const device = { ...JSON.parse(fs.readFileSync(config, 'utf8')), lang: 'en-US', audio: `file:${wavDir}`, board: 'headless' };
  fs.writeFileSync(paths.config, JSON.stringify(device), { mode: 0o600 });
  writeState(root, { ...initialState(), versions: { a: '1.0.0', b: null } });

  backend = await connectOnce(url, { clientId: 'backend-n18', ...readBackendCredentials(data)! });
  backend.on('message', (_t, p) => states.push(JSON.parse(p.toString()) as { online: boolean; firmware: string }));
  await backend.subscribeAsync(topics.state(DEVICE), { qos: 1 });
  loader = startLoader(root, node18.path, cleanEnv());
}, 120_000);

afterAll(async () => {
  if (!node18.ok) return;
  if (loader && loader.child.exitCode === null && loader.child.signalCode === null) expect(await loader.stop()).toEqual({ code: 0, signal: null });
  if (backend) await endClient(backend);
  if (broker) expect(await broker.stop()).toBe(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

const online = (version: string) => () => states.some((s) => s.online && s.firmware === version);
const wavs = (id: string) => (fs.existsSync(wavDir) ? fs.readdirSync(wavDir).filter((f) => f.includes(id) && f.endsWith('.wav')) : []);

async function pay(id: string, amount: string, currency: string): Promise<void> {
  const r = await runCli(['pay', '--direct', amount, '--currency', currency, '--device', DEVICE, '--broker', url, '--data', path.join(dir, 'data'), '--id', id, '--json']);
  expect(r.code, `${r.stdout}\n${r.stderr}\n${loader.lines.join('\n')}`).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ status: 'played' });
  const [file] = wavs(id);
  expect(file, `no WAV for ${id} in ${wavDir}`).toBeDefined();
  const pcm = decodeWav(fs.readFileSync(path.join(wavDir, file!)));
  expect(pcm.samples.length).toBeGreaterThan(pcm.sampleRate / 2); // over half a second of speech
  expect(pcm.samples.some((s) => Math.abs(s) > 1000)).toBe(true);
}

describe.skipIf(!node18.ok)(`the firmware image on Node 18 (${node18.ok ? node18.version : 'none'})`, () => {
  it('boots from slot a and reports the image version in its retained state', async () => {
    await loader.waitForLine(/loader: booting slot a 1\.0\.0$/);
    await until(online('1.0.0'), 'the device online with firmware 1.0.0', 30_000);
    expect(loader.lines.join('\n')).toMatch(/node v18\./);
  });

  it('announces a signed payment from its voice pack, and one with no recorded clips through eSpeak', async () => {
    await pay('PAY-N18-1', '12.34', 'USD');
    await pay('PAY-N18-CHF', '5', 'CHF');
    expect(loader.lines.join('\n')).toMatch(/has no clip .*speaking whole sentences with espeak-ng/);
  }, 60_000);

  it('boots an update on trial in slot b, which confirms once online', async () => {
    const paths = rootPaths(root);
    fs.cpSync(image.dir, paths.slot('b'), { recursive: true });
    signImageDir(paths.slot('b'), { version: '2.0.0', builtAt: new Date().toISOString(), privateKey: loadBackendPrivateKey(brokerDir(path.join(dir, 'data')))! });
    writeState(root, beginTrial(readState(root), { slot: 'b', version: '2.0.0', deadlineMs: 60_000, by: 'test', now: Date.now() }));
    // End the running firmware (its pid is in its JSON log lines), as the OTA updater ends itself.
    const pid = (JSON.parse(loader.lines.find((l) => l.startsWith('{'))!) as { pid: number }).pid;
    process.kill(pid, 'SIGTERM');
    await loader.waitForLine(/booting slot b 2\.0\.0/, 20_000);
    await until(online('2.0.0'), 'the device online with firmware 2.0.0', 30_000);
    await loader.waitForLine(/trial of 2\.0\.0 confirmed: slot b stays active/, 10_000);
    expect(readState(root)).toMatchObject({ active: 'b', trial: null, last: { result: 'updated', version: '2.0.0', by: 'test' } });
    await pay('PAY-N18-2', '1', 'USD');
  }, 90_000);

  it('stops the firmware when its loader is SIGKILLed, so no orphan holds the device', async () => {
    const pids = loader.lines.filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { pid: number }).pid);
    const firmware = pids[pids.length - 1]!;
    expect(alive(firmware)).toBe(true);
    const count = states.length;
    loader.child.kill('SIGKILL');
    await until(() => !alive(firmware), 'the firmware to exit after its loader died', 20_000);
    await until(() => states.slice(count).some((s) => !s.online), 'the device offline', 10_000);
  }, 30_000);
});

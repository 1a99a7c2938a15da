/**
 * Over-the-air updates end to end, all real: a secure broker on port 0 with its HTTP server, a
 * firmware image built by `image build`'s code, a temporary ROOT installed by hand the way
 * `payspeaker flash` lays it out (slots/a, boot.cjs, config/device.json, state.json), the
 * loader (ROOT/boot.cjs) run as a child process, and `payspeaker ota` run as the user runs it.
 *
 * One speaker goes through: a good update (slot a 1.0.0 → slot b 2.0.0), a release with a bad
 * signature and one whose download has a bad hash (both refused, the inactive slot untouched),
 * and a correctly signed image whose firmware never comes online (rolled back to 2.0.0, the
 * reason reported as the command's result).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { readBackendCredentials } from '../../broker/credentials.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { defaultFirmwareDir } from '../../broker/service.ts';
import { NotificationApi } from '../../tools/api/client.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { topics, type CommandResult } from '../../src/protocol/index.ts';
import { signCommand } from '../../src/protocol/signing-node.ts';
import { buildImage, type BuiltImage } from '../../tools/image/build.ts';
import { signImageDir } from '../../tools/image/manifest.ts';
import { packRelease, type PackedRelease } from '../../tools/image/release.ts';
import { imageFolderName, releaseFileName, signRelease, type Release } from '../../src/firmware/image.ts';
import { hashFile, listImageFiles } from '../../src/firmware/image-files.ts';
import { initialState, readState, rootPaths, writeState } from '../../device/boot/slots.ts';
import { cleanEnv, runCli } from '../support/cli.ts';
import { findNode18, type Node18 } from '../support/node18.ts';
import { until } from '../support/mqtt.ts';

const DEVICE = 'SPK-OTA';
let dir: string;
let dataDir: string;
let root: string;
let out: string;
let broker: RunningBroker;
let httpUrl: string;
let privateKey: KeyObject;
let v1: BuiltImage;
let loader: ChildProcess;
let loaderLog = '';
let node18: Node18;
let backend: MqttClient;
const states: { online: boolean; firmware: string }[] = [];
const results: CommandResult[] = [];

/** A copy of image 1.0.0 under another version, changed by `change`, signed and packed like a build. */
async function variant(version: string, change: (imageDir: string) => void = () => {}): Promise<PackedRelease> {
  const imageDir = path.join(out, imageFolderName(version));
  fs.cpSync(v1.dir, imageDir, { recursive: true });
  change(imageDir);
  signImageDir(imageDir, { version, builtAt: new Date().toISOString(), privateKey });
  return packRelease(imageDir, privateKey, out);
}

/** Every file of a slot with its sha256: to show that nothing was written there. */
function snapshot(slotDir: string): Record<string, string> {
  return Object.fromEntries(listImageFiles(slotDir).files.map((f) => [f, hashFile(path.join(slotDir, f)).sha256]));
}

const downloadsLeft = () => fs.readdirSync(path.join(root, 'slots')).filter((f) => f.startsWith('.ota-download'));
const lastState = () => states.at(-1);

function otaCli(release: string, extra: string[] = []) {
  const args = ['ota', DEVICE, '--release', release, '--api', httpUrl, '--broker', broker.mqttUrl, '--data', dataDir, '--json', ...extra];
  return runCli(args, { timeoutMs: 100_000 });
}

/** Publishes an ota command straight to the device (as a compromised or buggy backend could, signed with the backend key) and waits for its first result. */
async function sendOta(id: string, r: Release): Promise<CommandResult> {
  const command = signCommand(
    { v: 1, id, device: DEVICE, createdAt: Date.now(), command: 'ota', url: `${httpUrl}/v1/firmware/${r.file}`, version: r.version, sha256: r.sha256, size: r.size, signature: r.signature, deadlineMs: 20_000 },
    privateKey,
  );
  await backend.publishAsync(topics.command(DEVICE), JSON.stringify(command), { qos: 1 });
  await until(() => results.some((x) => x.id === id), `a result for ${id}`, 30_000);
  return results.find((x) => x.id === id)!;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-ota-'));
  dataDir = path.join(dir, 'data');
  root = path.join(dir, 'root');
  out = path.join(dir, 'firmware');
  broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null, security: { mode: 'secure', dataDir }, service: { dataDir, httpPort: 0 } });
  httpUrl = broker.service!.httpUrl!;
  const configFile = path.join(dir, `${DEVICE}.json`);
  const provisioned = await runCli(['provision', DEVICE, '--data', dataDir, '--broker', broker.mqttUrl, '--out', configFile]);
  expect(provisioned.code, provisioned.stderr).toBe(0);
  privateKey = loadBackendPrivateKey(brokerDir(dataDir))!;
  v1 = await buildImage({ outDir: out, version: '1.0.0', privateKey, langs: ['zh-CN'], espeak: false, voicePackDir: process.env.PAYSPEAKER_VOICEPACK_DIR });

  // The install, as flash leaves it: image 1.0.0 in slot a, the loader, the config, the state.
  const paths = rootPaths(root);
  fs.cpSync(v1.dir, paths.slot('a'), { recursive: true });
  fs.copyFileSync(path.join(v1.dir, 'boot.cjs'), paths.loader);
  fs.mkdirSync(path.dirname(paths.config), { recursive: true });
  const config = { ...JSON.parse(fs.readFileSync(configFile, 'utf8')), board: 'headless', audio: 'none', lang: 'zh-CN' };
  fs.writeFileSync(paths.config, JSON.stringify(config, null, 2), { mode: 0o600 });
  writeState(root, { ...initialState(), versions: { a: '1.0.0', b: null } });

  backend = await connectOnce(broker.mqttUrl, { clientId: 'backend-ota-test', ...readBackendCredentials(dataDir)! });
  backend.on('message', (topic, payload) => {
    if (topic === topics.state(DEVICE)) states.push(JSON.parse(payload.toString()));
    if (topic === topics.commandResult(DEVICE)) results.push(JSON.parse(payload.toString()));
  });
  await backend.subscribeAsync([topics.state(DEVICE), topics.commandResult(DEVICE)], { qos: 1 });

  node18 = await findNode18();
  if (!node18.ok) console.warn(`OTA end to end runs on ${process.version}, not Node 18: ${node18.reason}`);
  loader = spawn(node18.ok ? node18.path : process.execPath, [paths.loader], { env: cleanEnv({ PAYSPEAKER_LOG_LEVEL: 'warn' }), stdio: ['ignore', 'pipe', 'pipe'] });
  loader.stdout!.on('data', (d: Buffer) => (loaderLog += d));
  loader.stderr!.on('data', (d: Buffer) => (loaderLog += d));
  await until(() => lastState()?.online === true && lastState()?.firmware === '1.0.0', 'the speaker online with 1.0.0', 30_000).catch((err: Error) => {
    throw new Error(`${err.message}\nloader output:\n${loaderLog}`);
  });
}, 120_000);

afterAll(async () => {
  if (loader && loader.exitCode === null) {
    const exited = new Promise((resolve) => loader.once('exit', resolve));
    loader.kill('SIGTERM');
    const timer = setTimeout(() => loader.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (backend) await endClient(backend);
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('over-the-air update', () => {
  it('installs a good release into slot b, restarts into it and reports 2.0.0', async () => {
    const v2 = await variant('2.0.0');
    const r = await otaCli(v2.releaseFile, ['--deadline', '30s', '--timeout', '60s']);
    expect(r.code, `${r.stderr}\nloader:\n${loaderLog}`).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as CommandResult);
    expect(lines[0]).toMatchObject({ device: DEVICE, command: 'ota', ok: true, firmware: { status: 'installing', version: '2.0.0' } });
    expect(lines.at(-1)).toMatchObject({ id: lines[0]!.id, ok: true, firmware: { status: 'updated', version: '2.0.0' }, text: 'updated to 2.0.0' });
    expect(r.stderr).toMatch(/installing 2\.0\.0 in slot b, restarting/);
    if (node18.ok) expect(loaderLog).toMatch(/node v18\./);
    // The retained state says so, and the disk agrees.
    await until(() => lastState()?.online === true && lastState()?.firmware === '2.0.0', 'the retained state with 2.0.0');
    const state = readState(root);
    expect(state).toMatchObject({ active: 'b', versions: { a: '1.0.0', b: '2.0.0' }, trial: null, last: { result: 'updated', version: '2.0.0', by: `ota:${lines[0]!.id}`, reported: true } });
    expect(fs.readFileSync(path.join(rootPaths(root).slot('b'), 'manifest.json'), 'utf8')).toContain('"version": "2.0.0"');
    expect(downloadsLeft()).toEqual([]);
    // The broker keeps the release for any other speaker to fetch.
    expect(fs.existsSync(path.join(defaultFirmwareDir(dataDir), releaseFileName('2.0.0')))).toBe(true);
  }, 90_000);

  it('refuses a release with a bad signature before downloading or writing anything', async () => {
    const v3 = await variant('3.0.0');
    const before = snapshot(rootPaths(root).slot('a'));
    const { privateKey: otherKey } = generateKeyPairSync('ed25519');
    const forged = { ...v3.release, signature: signRelease('3.0.0', v3.release.sha256, otherKey) };
    const result = await sendOta('OTA-BAD-SIG', forged);
    expect(result).toMatchObject({ ok: false, command: 'ota' });
    expect(result.error).toMatch(/refused 3\.0\.0, nothing was written: the signature of release 3\.0\.0 does not verify with the backend's public key/);
    expect(snapshot(rootPaths(root).slot('a'))).toEqual(before);
    expect(readState(root)).toMatchObject({ active: 'b', versions: { a: '1.0.0', b: '2.0.0' }, trial: null });
    expect(downloadsLeft()).toEqual([]);
    expect(lastState()).toMatchObject({ online: true, firmware: '2.0.0' });
  });

  it('refuses a download whose sha256 is not the signed one, with the inactive slot untouched', async () => {
    const v3 = await variant('3.0.1');
    const api = new NotificationApi(httpUrl, readBackendCredentials(dataDir)!.password);
    await api.uploadFirmware(v3.release.file, fs.readFileSync(v3.tarball));
    await api.uploadFirmware(releaseFileName('3.0.1'), fs.readFileSync(v3.releaseFile));
    // Someone alters the tarball on the server after it was uploaded: same size, one byte off.
    const served = path.join(defaultFirmwareDir(dataDir), v3.release.file);
    const bytes = fs.readFileSync(served);
    const middle = bytes.length >> 1;
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    fs.writeFileSync(served, bytes);
    const before = snapshot(rootPaths(root).slot('a'));
    const result = await sendOta('OTA-BAD-HASH', v3.release);
    expect(result).toMatchObject({ ok: false, command: 'ota' });
    expect(result.error).toMatch(new RegExp(`refused 3\\.0\\.1, nothing was written: the download's sha256 is [0-9a-f]{64}, the signed release says ${v3.release.sha256}`));
    expect(snapshot(rootPaths(root).slot('a'))).toEqual(before);
    expect(readState(root)).toMatchObject({ active: 'b', versions: { a: '1.0.0', b: '2.0.0' }, trial: null });
    expect(downloadsLeft()).toEqual([]);
  });

  it('rolls back a firmware that never comes online, and the old one reports why', async () => {
    // Correctly signed, but its firmware.cjs never connects to the broker.
    const v4 = await variant('4.0.0', (d) => fs.writeFileSync(path.join(d, 'firmware.cjs'), 'setInterval(() => {}, 1000);\n'));
    const statesBefore = states.length;
    const r = await otaCli(v4.releaseFile, ['--deadline', '5s', '--timeout', '60s']);
    expect(r.code, `${r.stderr}\nloader:\n${loaderLog}`).toBe(3);
    expect(r.stderr).toMatch(/SPK-OTA rolled back: 4\.0\.0 was rolled back: 4\.0\.0 did not come online within 5 s; running 2\.0\.0 again/);
    const final = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as CommandResult;
    expect(final).toMatchObject({ ok: false, firmware: { status: 'rolled-back', version: '4.0.0' } });
    // Back on 2.0.0 in slot b, after having been offline for the trial.
    await until(() => lastState()?.online === true && lastState()?.firmware === '2.0.0', 'the retained state with 2.0.0 again');
    expect(states.slice(statesBefore).some((s) => !s.online)).toBe(true);
    const state = readState(root);
    expect(state).toMatchObject({ active: 'b', trial: null, last: { result: 'rolled-back', version: '4.0.0', reported: true } });
    expect(state.last!.reason).toMatch(/did not come online within 5 s/);
    expect(loaderLog).toMatch(/roll/i);
  }, 90_000);

  it('refuses an older release (anti-rollback) unless `payspeaker ota --allow-downgrade` signs the flag', async () => {
    const old = await variant('1.5.0');
    const before = snapshot(rootPaths(root).slot('a'));
    const refused = await otaCli(old.releaseFile, ['--deadline', '30s', '--timeout', '30s']);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/SPK-OTA refused the update: refused 1\.5\.0, nothing was written: it is older than the 2\.0\.0 this speaker runs \(anti-rollback\); to go back on purpose, send it with "npx payspeaker ota --allow-downgrade"/);
    expect(snapshot(rootPaths(root).slot('a'))).toEqual(before);

    const allowed = await otaCli(old.releaseFile, ['--deadline', '30s', '--timeout', '60s', '--allow-downgrade']);
    expect(allowed.code, `${allowed.stderr}\nloader:\n${loaderLog}`).toBe(0);
    expect(JSON.parse(allowed.stdout.trim().split('\n').at(-1)!)).toMatchObject({ ok: true, firmware: { status: 'updated', version: '1.5.0' } });
    await until(() => lastState()?.online === true && lastState()?.firmware === '1.5.0', 'the retained state with 1.5.0');
  }, 120_000);
});

/**
 * The OTA extension in-process (device/extensions/ota.ts), a Speaker on a real broker whose HTTP
 * server serves the releases, over a real temporary A/B install (device/drivers/firmware-slots.ts).
 * The one thing injected is the restart: in a test process, "exit so the loader boots the new
 * slot" is a callback we count (test/firmware/ota-e2e.test.ts runs the real loader).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { defaultFirmwareDir } from '../../broker/service.ts';
import { createEspeakEngine } from '../../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { signImageDir } from '../../tools/image/manifest.ts';
import { packRelease, type PackedRelease } from '../../tools/image/release.ts';
import { Speaker } from '../../device/speaker.ts';
import { Trust } from '../../device/trust.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createFirmwareSlots } from '../../device/drivers/firmware-slots.ts';
import { NOT_AN_AB_INSTALL } from '../../device/extensions/ota.ts';
import { initialState, readState, rootPaths, writeState, type BootState, type Slot } from '../../device/boot/slots.ts';
import { topics } from '../../src/protocol/index.ts';
import { signCommand, nodeVerifyingKey } from '../../src/protocol/signing-node.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { OtaExtension } from '../../device/extensions/ota.ts';

const voice = createTtsVoice(createEspeakEngine());
let dir: string;
let broker: RunningBroker;
let httpUrl: string;
let privateKey: KeyObject;
let publicKey: KeyObject;
const running: { speaker: Speaker; link: DeviceLink }[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-ota-device-'));
  broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null, service: { dataDir: dir, httpPort: 0 } });
  httpUrl = broker.service!.httpUrl!;
  ({ privateKey, publicKey } = loadOrCreateBackendKeys(brokerDir(dir)));
});

afterAll(async () => {
  for (const { speaker, link } of running) {
    await speaker.stop();
    await link.close();
  }
  await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A tiny hand-made image (no esbuild needed here), signed with `signer`, packed and put on the broker. */
async function release(version: string, signer: KeyObject = privateKey): Promise<PackedRelease> {
  const imageDir = path.join(dir, 'images', version);
  fs.mkdirSync(path.join(imageDir, 'voices'), { recursive: true });
  fs.writeFileSync(path.join(imageDir, 'firmware.cjs'), `// firmware ${version}\n`);
  fs.writeFileSync(path.join(imageDir, 'boot.cjs'), '// loader\n');
  fs.writeFileSync(path.join(imageDir, 'voices', 'x.wav'), 'RIFF');
  signImageDir(imageDir, { version, builtAt: new Date().toISOString(), privateKey: signer });
  const out = defaultFirmwareDir(dir);
  fs.mkdirSync(out, { recursive: true });
  // The release itself is always signed by the backend: only the image inside may be another's.
  return packRelease(imageDir, privateKey, out);
}

const command = (r: PackedRelease, extra: Record<string, unknown> = {}) => ({
  url: `${httpUrl}/v1/firmware/${r.release.file}`,
  version: r.release.version,
  sha256: r.release.sha256,
  size: r.release.size,
  signature: r.release.signature,
  ...extra,
});

/** A temporary install: slot a holds 1.0.0 and runs; `patch` changes the boot state. */
function install(name: string, patch: Partial<BootState> = {}): string {
  const root = path.join(dir, 'roots', name);
  fs.mkdirSync(rootPaths(root).slot('a'), { recursive: true });
  writeState(root, { ...initialState(), versions: { a: '1.0.0', b: null }, ...patch });
  return root;
}

/** A speaker running from `slot` of `root` (or from no install at all), online. */
async function speakerOn(id: string, opts: { root?: string; slot?: Slot; key?: KeyObject | null; version?: string } = {}) {
  const restarts: number[] = [];
  const firmware = opts.root ? createFirmwareSlots({ root: opts.root, slot: opts.slot ?? 'a', restart: () => restarts.push(Date.now()) }) : undefined;
  const board = { ...createHeadlessBoard(), ...(firmware && { firmware }) };
  const link = await DeviceLink.open(broker.mqttUrl, id, { privateKey });
  const speaker = new Speaker({
    platformExtensions: (ctx) => [new OtaExtension(ctx)],
    id,
    brokerUrl: broker.mqttUrl,
    lang: 'en-US',
    board,
    voice,
    settings: { prompts: false },
    trust: new Trust({ publicKey: (opts.key === undefined ? nodeVerifyingKey(publicKey) : opts.key && nodeVerifyingKey(opts.key)) }),
    firmwareVersion: opts.version ?? '1.0.0',
  });
  await speaker.start();
  running.push({ speaker, link });
  return { speaker, link, restarts };
}

const slotFiles = (root: string, slot: Slot) => fs.readdirSync(rootPaths(root).slot(slot), { recursive: true }).sort();

describe('the OTA extension refuses what it cannot or must not install', () => {
  it('on a board without A/B slots (a laptop, a plain `device`): flash it first', async () => {
    const r = await release('2.0.0');
    const { link } = await speakerOn('SPK-NOAB');
    const result = await link.command('ota', command(r));
    expect(result).toMatchObject({ ok: false, command: 'ota', error: NOT_AN_AB_INSTALL });
  });

  it('without a backend key (--insecure), a trial already on, or the version already running', async () => {
    const r = await release('2.0.1');
    const insecure = await speakerOn('SPK-INSECURE', { root: install('insecure'), key: null });
    expect((await insecure.link.command('ota', command(r))).error).toMatch(/no backend key .*cannot check a firmware's signature: provision it/);

    // An update began (slot b on trial) and this firmware has not exited yet: a second one must wait.
    const trial = { slot: 'b' as const, previous: 'a' as const, version: '1.5.0', startedAt: Date.now(), deadlineMs: 60_000, boots: 0, by: 'ota:OTA-FIRST' };
    const onTrial = await speakerOn('SPK-TRIAL', { root: install('trial', { active: 'b', versions: { a: '1.0.0', b: '1.5.0' }, trial }) });
    expect((await onTrial.link.command('ota', command(r))).error).toBe('slot b is already on trial with 1.5.0: wait for it to confirm or roll back');

    const root = install('same');
    const same = await speakerOn('SPK-SAME', { root });
    const already = await release('1.0.0');
    expect((await same.link.command('ota', command(already))).error).toBe('this speaker already runs 1.0.0: nothing to update');
    for (const s of [insecure, onTrial, same]) expect(s.restarts).toEqual([]);
  });

  it('a download that fails, or is not the size the release says, leaves the inactive slot alone', async () => {
    const r = await release('2.0.2');
    const root = install('download');
    const { link, restarts } = await speakerOn('SPK-DL', { root });
    const missing = await link.command('ota', command(r, { url: `${httpUrl}/v1/firmware/payspeaker-firmware-7.7.7.tar.gz` }));
    expect(missing.error).toMatch(/^refused 2\.0\.2, nothing was written: http:\/\/.*payspeaker-firmware-7\.7\.7\.tar\.gz answered HTTP 404/);
    const unreachable = await link.command('ota', command(r, { url: 'http://127.0.0.1:9/x.tar.gz' }));
    expect(unreachable.error).toMatch(/refused 2\.0\.2, nothing was written: cannot download http:\/\/127.0.0.1:9\/x.tar.gz \(.*ECONNREFUSED/);
    const longer = await link.command('ota', command(r, { size: r.release.size + 1 }));
    expect(longer.error).toBe(`refused 2.0.2, nothing was written: ${httpUrl}/v1/firmware/${r.release.file} is ${r.release.size} bytes, the release says ${r.release.size + 1}`);
    expect(readState(root).versions.b).toBeNull();
    expect(fs.existsSync(rootPaths(root).slot('b'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'slots'))).toEqual(['a']);
    expect(restarts).toEqual([]);
  });

  it('an image whose manifest is not signed by the backend is unpacked, found out and removed again', async () => {
    const { privateKey: otherKey } = generateKeyPairSync('ed25519');
    const r = await release('2.0.3', otherKey);
    const root = install('foreign');
    const { link, restarts } = await speakerOn('SPK-FOREIGN', { root });
    const result = await link.command('ota', command(r));
    expect(result.error).toMatch(/^refused 2\.0\.3: slot b was emptied again: the manifest signature of .* does not verify with the backend's public key/);
    expect(slotFiles(root, 'b')).toEqual([]);
    expect(readState(root)).toMatchObject({ active: 'a', versions: { a: '1.0.0', b: null }, trial: null });
    expect(restarts).toEqual([]);
  });
});

describe('anti-rollback: an older release needs a signed allowDowngrade', () => {
  it('refuses a release older than the running one without the flag, nothing downloaded or written', async () => {
    const r = await release('0.9.0');
    const root = install('rollback');
    const { link, restarts } = await speakerOn('SPK-ROLLBACK', { root });
    const result = await link.command('ota', command(r));
    expect(result).toMatchObject({ ok: false, command: 'ota' });
    expect(result.error).toBe(
      'refused 0.9.0, nothing was written: it is older than the 1.0.0 this speaker runs (anti-rollback); to go back on purpose, send it with "npx payspeaker ota --allow-downgrade"',
    );
    // Numeric segments compare as numbers: 1.10.0 is newer than 1.9.0, so 1.9.0 under 1.10.0 is a downgrade.
    const tens = await speakerOn('SPK-ROLLBACK-10', { root: install('rollback-10', { versions: { a: '1.10.0', b: null } }), version: '1.10.0' });
    expect((await tens.link.command('ota', command(await release('1.9.0')))).error).toMatch(/^refused 1\.9\.0, nothing was written: it is older than the 1\.10\.0 this speaker runs \(anti-rollback\)/);
    expect(readState(root)).toMatchObject({ active: 'a', versions: { a: '1.0.0', b: null }, trial: null });
    expect(fs.readdirSync(path.join(root, 'slots'))).toEqual(['a']);
    expect(restarts).toEqual([]);
  });

  it('installs it when the signed command allows a downgrade', async () => {
    const r = await release('0.9.1');
    const root = install('downgrade');
    const { link, restarts } = await speakerOn('SPK-DOWNGRADE', { root });
    const result = await link.command('ota', command(r, { allowDowngrade: true }));
    expect(result).toMatchObject({ ok: true, command: 'ota', firmware: { status: 'installing', version: '0.9.1' } });
    await until(() => restarts.length === 1, 'the restart into 0.9.1');
    expect(readState(root)).toMatchObject({ active: 'b', versions: { a: '1.0.0', b: '0.9.1' }, trial: { version: '0.9.1' } });
  });

  it('refuses the flag added to a command signed without it: the signature no longer matches', async () => {
    const r = await release('0.9.2');
    const root = install('tampered');
    const { link, restarts } = await speakerOn('SPK-TAMPERED', { root });
    const signed = signCommand({ v: 1, id: 'OTA-TAMPERED', command: 'ota', device: 'SPK-TAMPERED', createdAt: Date.now(), ...command(r) }, privateKey);
    await link.client.publishAsync(topics.command('SPK-TAMPERED'), JSON.stringify({ ...signed, allowDowngrade: true }), { qos: 1 });
    await until(() => link.results.some((x) => x.id === 'OTA-TAMPERED'), 'the refusal');
    expect(link.results.find((x) => x.id === 'OTA-TAMPERED')).toMatchObject({
      ok: false,
      command: 'ota',
      reason: 'bad-signature',
      error: 'refused, not run (bad-signature): signature does not match: the command was altered or signed by another key',
    });
    expect(readState(root)).toMatchObject({ active: 'a', versions: { a: '1.0.0', b: null }, trial: null });
    expect(restarts).toEqual([]);
  });
});

describe('a good update, up to the restart and after it', () => {
  it('installs into slot b, starts a trial with the command deadline, answers, then restarts; the new firmware reports it', async () => {
    const r = await release('3.0.0');
    const root = install('good');
    const old = await speakerOn('SPK-GOOD', { root });
    const result = await old.link.command('ota', command(r, { deadlineMs: 45_000 }));
    expect(result).toMatchObject({ ok: true, command: 'ota', text: 'installing 3.0.0 in slot b, restarting', firmware: { status: 'installing', version: '3.0.0' } });
    await until(() => old.restarts.length === 1, 'the restart, once the answer was sent');
    expect(slotFiles(root, 'b')).toEqual(['boot.cjs', 'firmware.cjs', 'manifest.json', 'manifest.sig', 'voices', 'voices/x.wav']);
    expect(readState(root)).toMatchObject({ active: 'b', versions: { a: '1.0.0', b: '3.0.0' }, trial: { slot: 'b', previous: 'a', version: '3.0.0', deadlineMs: 45_000, by: `ota:${result.id}` } });
    expect(fs.readdirSync(path.join(root, 'slots')).sort()).toEqual(['a', 'b']);
    const stopped = running.pop()!;
    await stopped.speaker.stop();

    // What the loader would start next: the firmware in slot b. Online, it keeps the trial and reports.
    const fresh = await speakerOn('SPK-GOOD', { root, slot: 'b', version: '3.0.0' });
    await until(() => old.link.results.filter((x) => x.id === result.id).length === 2, 'the final result');
    expect(old.link.results.filter((x) => x.id === result.id)[1]).toMatchObject({ ok: true, command: 'ota', text: 'updated to 3.0.0', firmware: { status: 'updated', version: '3.0.0' } });
    expect(readState(root)).toMatchObject({ active: 'b', trial: null, last: { result: 'updated', version: '3.0.0', reported: true } });
    await until(() => old.link.states.some((s) => s.online === true && s.firmware === '3.0.0'), 'the retained state with 3.0.0');
    expect(fresh.restarts).toEqual([]);
    await stopped.link.close();
  });

  it('after the loader rolled a trial back, the old firmware reports the reason once', async () => {
    const root = install('rolled', {
      last: { result: 'rolled-back', version: '3.1.0', reason: '3.1.0 did not come online within 60 s', by: 'ota:OTA-OLD-1', at: Date.now() },
    });
    const { link } = await speakerOn('SPK-ROLLED', { root });
    await until(() => link.results.some((x) => x.id === 'OTA-OLD-1'), 'the rollback report');
    expect(link.results.find((x) => x.id === 'OTA-OLD-1')).toMatchObject({
      ok: false,
      command: 'ota',
      firmware: { status: 'rolled-back', version: '3.1.0' },
      error: '3.1.0 was rolled back: 3.1.0 did not come online within 60 s; running 1.0.0 again',
    });
    expect(readState(root).last).toMatchObject({ reported: true });
  });
});

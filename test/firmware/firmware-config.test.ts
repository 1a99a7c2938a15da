/**
 * ROOT/config/device.json as the installed firmware reads it: the provisioned config plus the
 * firmware's own settings, and a firmware that refuses a bad one with a message naming the file,
 * the field and what to do (exit code 2, so the loader's log says why it keeps restarting).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceConfigError } from '../../device/boot/device-config.ts';
import { parseFirmwareConfig } from '../../device/boot/firmware-config.ts';
import { rootPaths } from '../../device/boot/slots.ts';
import { bundle, FIRMWARE_SOURCE } from '../../tools/image/bundle.ts';
import { tempRoot } from './helpers.ts';

const key = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
const provisioned = { id: 'SPK-0001', broker: 'mqtt://127.0.0.1:1883', username: 'SPK-0001', password: 'secret', backendPublicKey: key };

describe('firmware config', () => {
  it('defaults: zh-CN, the ALSA player, the Pi board', () => {
    const c = parseFirmwareConfig(provisioned);
    expect(c).toMatchObject({ id: 'SPK-0001', lang: 'zh-CN', audio: { kind: 'player' }, board: 'pi', pi: undefined });
    expect(c.backendPublicKey?.asymmetricKeyType).toBe('ed25519');
  });

  it('takes lang, audio, board and passes the pi section through', () => {
    const c = parseFirmwareConfig({ ...provisioned, lang: 'hi-IN', audio: 'file:/var/lib/payspeaker/out', board: 'headless', pi: { led: 5 } });
    expect(c).toMatchObject({ lang: 'hi-IN', audio: { kind: 'file', dir: '/var/lib/payspeaker/out' }, board: 'headless', pi: { led: 5 } });
  });

  it.each([
    [{ lang: 'fr-FR' }, /"lang": .*fix the device config's firmware settings \(lang zh-CN\|en-US\|hi-IN/],
    [{ board: 'esp32' }, /"board": .*board pi\|headless\|laptop/],
    [{ audio: 'speaker' }, /"audio": invalid audio spec "speaker"/],
    [{ backendPublicKey: null }, /"backendPublicKey" is null, so the speaker could not tell a real payment from a fake/],
    [{ id: 'no spaces allowed' }, /"id": not a valid device id: provision the device again/],
  ])('refuses %j with the field and what to do', (change, message) => {
    expect(() => parseFirmwareConfig({ ...provisioned, ...change })).toThrow(DeviceConfigError);
    expect(() => parseFirmwareConfig({ ...provisioned, ...change })).toThrow(message);
  });
});

describe('firmware.cjs with a bad config', () => {
  let root: string;
  beforeAll(async () => {
    root = tempRoot('fwconfig');
    await bundle(FIRMWARE_SOURCE, path.join(rootPaths(root).slot('a'), 'firmware.cjs'));
  }, 60_000);
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const run = () =>
    spawnSync(process.execPath, [path.join(rootPaths(root).slot('a'), 'firmware.cjs')], { env: { ...process.env, PAYSPEAKER_ROOT: root, PAYSPEAKER_SLOT: 'a' }, encoding: 'utf8', timeout: 20_000 });

  it('exits 2 naming the missing file and how to fix it', () => {
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`payspeaker firmware: bad device config: ${rootPaths(root).config}: no such file: flash the device again`);
  });

  it('exits 2 naming the bad field', () => {
    fs.mkdirSync(path.dirname(rootPaths(root).config), { recursive: true });
    fs.writeFileSync(rootPaths(root).config, JSON.stringify({ ...provisioned, board: 'esp32' }));
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad device config: .*device\.json: "board": /);
  });
});

/**
 * `image build`: what the image holds, that its manifest and release are signed with the
 * backend's key, and that one changed byte anywhere (a file, the manifest, the tarball, the
 * release) is caught by verifyImageDir / verifyRelease with the specific reason. One build
 * (en-US pack and eSpeak) serves the file; each tampering works on a copy.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { buildImage, type BuiltImage } from '../../tools/image/build.ts';
import { fillServiceUnit } from '../../tools/image/service-unit.ts';
import { MANIFEST_FILE, SIGNATURE_FILE, verifyRelease, type Release } from '../../src/firmware/image.ts';
import { hashFile, listImageFiles, verifyImageDir, verifyReleaseFile } from '../../src/firmware/image-files.ts';
import { runCli } from '../support/cli.ts';
import { tempRoot } from './helpers.ts';

let tmp: string;
let built: BuiltImage;
let publicKey: KeyObject;
let dataDir: string;

beforeAll(async () => {
  tmp = tempRoot('image');
  dataDir = path.join(tmp, 'data');
  const keys = loadOrCreateBackendKeys(brokerDir(dataDir));
  publicKey = keys.publicKey;
  built = await buildImage({ outDir: path.join(tmp, 'firmware'), privateKey: keys.privateKey, langs: ['en-US'], now: () => new Date('2025-03-04T05:06:07Z') });
}, 120_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the built image folder to damage. */
function copy(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(built.dir, dir, { recursive: true });
  return dir;
}

function flipByte(file: string, at = 0): void {
  const bytes = fs.readFileSync(file);
  bytes[at] = bytes[at]! ^ 0x01;
  fs.writeFileSync(file, bytes);
}

describe('image build', () => {
  it('names the image by version (package version + UTC build time) and writes folder, tarball and release side by side', () => {
    expect(built.version).toBe('0.1.0+20250304050607');
    expect(path.basename(built.dir)).toBe('payspeaker-firmware-0.1.0+20250304050607');
    expect(path.basename(built.tarball)).toBe('payspeaker-firmware-0.1.0+20250304050607.tar.gz');
    const release = JSON.parse(fs.readFileSync(built.releaseFile, 'utf8')) as Release;
    expect(release).toEqual(built.release);
    expect(release).toMatchObject({ version: built.version, file: path.basename(built.tarball), ...hashFile(built.tarball) });
  });

  it('carries the bundles, the voice pack, eSpeak and the systemd unit, and the manifest lists every file with its sha256 and size', () => {
    const { files, others } = listImageFiles(built.dir);
    expect(others).toEqual([]);
    const listed = Object.keys(built.manifest.files);
    expect([...listed, MANIFEST_FILE, SIGNATURE_FILE].sort()).toEqual(files);
    for (const f of listed) expect(built.manifest.files[f], f).toEqual(hashFile(path.join(built.dir, f)));
    expect(listed).toEqual(expect.arrayContaining(['firmware.cjs', 'boot.cjs', 'payspeaker.service', 'voices/en-US/manifest.json', 'node_modules/@echogarden/espeak-ng-emscripten/espeak-ng.data', 'node_modules/@echogarden/espeak-ng-emscripten/COPYING']));
    expect(listed.filter((f) => f.startsWith('voices/en-US/') && f.endsWith('.wav')).length).toBeGreaterThan(50);
    expect(listed.some((f) => f.startsWith('voices/zh-CN/'))).toBe(false);
    expect(built.manifest).toMatchObject({ name: 'payspeaker-firmware', version: built.version, builtAt: '2025-03-04T05:06:07.000Z', node: '>=18', entry: 'firmware.cjs', loader: 'boot.cjs' });
  });

  it('bundles for Node 18 as CommonJS with nothing left to install', () => {
    const fw = fs.readFileSync(path.join(built.dir, 'firmware.cjs'), 'utf8');
    // Run-time requires: node built-ins, plus optional speed-ups their users load inside try/catch
    // (debug's supports-color, ws's bufferutil and utf-8-validate). eSpeak is import()ed by name
    // from the node_modules beside firmware.cjs.
    const optional = ['supports-color', 'bufferutil', 'utf-8-validate'];
    const required = new Set([...fw.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]!));
    expect([...required].filter((r) => !builtinModules.includes(r.replace(/^node:/, '')) && !optional.includes(r))).toEqual([]);
    expect(fw).not.toMatch(/import\.meta\.dirname/);
    expect(fw).toMatch(/import\(specifier\)/);
  });

  it('verifies with the backend public key: manifest signature and release signature', () => {
    expect(verifyImageDir(built.dir, publicKey)).toMatchObject({ ok: true, manifest: { version: built.version } });
    expect(verifyRelease(built.release, publicKey)).toEqual({ ok: true, release: built.release });
    expect(verifyReleaseFile(built.release, built.tarball, publicKey)).toMatchObject({ ok: true });
  });

  it('is refused by another backend key', () => {
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(verifyImageDir(built.dir, other)).toMatchObject({ ok: false, problem: 'signature-invalid' });
    expect(verifyRelease(built.release, other)).toMatchObject({ ok: false, problem: 'signature-invalid' });
  });

  it('catches one changed byte in a file, naming the file', () => {
    const dir = copy('tampered-file');
    flipByte(path.join(dir, 'voices/en-US/manifest.json'), 10);
    expect(verifyImageDir(dir, publicKey)).toMatchObject({ ok: false, problem: 'hash-mismatch', file: 'voices/en-US/manifest.json', reason: expect.stringMatching(/voices\/en-US\/manifest\.json .* does not match its sha256/) });
  });

  it('catches one changed byte in the manifest (its signature no longer verifies)', () => {
    const dir = copy('tampered-manifest');
    flipByte(path.join(dir, MANIFEST_FILE), 30);
    expect(verifyImageDir(dir, publicKey)).toMatchObject({ ok: false, problem: 'signature-invalid', reason: expect.stringMatching(/manifest signature .* does not verify/) });
  });

  it('catches a missing, a truncated and an unexpected file, and a missing signature', () => {
    const missing = copy('missing');
    fs.rmSync(path.join(missing, 'boot.cjs'));
    expect(verifyImageDir(missing, publicKey)).toMatchObject({ ok: false, problem: 'file-missing', file: 'boot.cjs' });
    const cut = copy('cut');
    fs.truncateSync(path.join(cut, 'firmware.cjs'), 100);
    expect(verifyImageDir(cut, publicKey)).toMatchObject({ ok: false, problem: 'size-mismatch', file: 'firmware.cjs' });
    const extra = copy('extra');
    fs.writeFileSync(path.join(extra, 'voices', 'evil.cjs'), 'x');
    expect(verifyImageDir(extra, publicKey)).toMatchObject({ ok: false, problem: 'unexpected-file', file: 'voices/evil.cjs', reason: expect.stringMatching(/not listed in the manifest/) });
    const link = copy('link');
    fs.symlinkSync('/etc/passwd', path.join(link, 'passwd'));
    expect(verifyImageDir(link, publicKey)).toMatchObject({ ok: false, problem: 'unexpected-file', file: 'passwd', reason: expect.stringMatching(/not a regular file/) });
    // A name every object inherits ("constructor") is still not listed.
    const inherited = copy('inherited');
    fs.writeFileSync(path.join(inherited, 'constructor'), 'x');
    expect(verifyImageDir(inherited, publicKey)).toMatchObject({ ok: false, problem: 'unexpected-file', file: 'constructor' });
    const unsigned = copy('unsigned');
    fs.rmSync(path.join(unsigned, SIGNATURE_FILE));
    expect(verifyImageDir(unsigned, publicKey)).toMatchObject({ ok: false, problem: 'signature-missing' });
  });

  it('catches one changed byte in the tarball, and a release whose version or hash was edited', () => {
    const tgz = path.join(tmp, 'tampered.tar.gz');
    fs.copyFileSync(built.tarball, tgz);
    flipByte(tgz, 1000);
    expect(verifyReleaseFile(built.release, tgz, publicKey)).toMatchObject({ ok: false, problem: 'hash-mismatch', reason: expect.stringMatching(/tampered\.tar\.gz is not release/) });
    expect(verifyRelease({ ...built.release, version: '9.9.9' }, publicKey)).toMatchObject({ ok: false, problem: 'signature-invalid' });
    expect(verifyRelease({ ...built.release, sha256: hashFile(tgz).sha256 }, publicKey)).toMatchObject({ ok: false, problem: 'signature-invalid' });
    expect(verifyRelease({ ...built.release, file: '../etc/passwd' }, publicKey)).toMatchObject({ ok: false, problem: 'release-invalid', reason: expect.stringMatching(/"file"/) });
  });

  it('the tarball holds the image folder contents at its root, which verify once unpacked', async () => {
    const into = path.join(tmp, 'unpacked');
    fs.mkdirSync(into);
    await tar.x({ file: built.tarball, cwd: into });
    expect(fs.existsSync(path.join(into, 'firmware.cjs'))).toBe(true);
    expect(verifyImageDir(into, publicKey)).toMatchObject({ ok: true });
  });

  it('carries a systemd unit that runs the loader from the install root', () => {
    const unit = fillServiceUnit(fs.readFileSync(path.join(built.dir, 'payspeaker.service'), 'utf8'), { root: '/opt/payspeaker', user: 'pi' });
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/payspeaker\/boot\.cjs$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^User=pi$/m);
    expect(unit).not.toMatch(/@[A-Z]+@/);
    expect(() => fillServiceUnit(unit, { root: 'relative/path', user: 'pi' })).toThrow(/absolute path/);
  });
});

describe('payspeaker image build (CLI)', () => {
  it('--json prints the release; the image verifies with the data dir key', async () => {
    const out = path.join(tmp, 'cli-out');
    const r = await runCli(['image', 'build', '--out', out, '--image-version', '2.0.0-rc.1', '--lang', 'en-US', '--no-espeak', '--data', dataDir, '--json'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/bundling the firmware for Node 18/);
    const release = JSON.parse(r.stdout) as Release & { dir: string };
    expect(release).toMatchObject({ version: '2.0.0-rc.1', file: 'payspeaker-firmware-2.0.0-rc.1.tar.gz' });
    expect(verifyRelease(release, publicKey)).toMatchObject({ ok: true });
    const image = verifyImageDir(release.dir, createPublicKey(fs.readFileSync(path.join(brokerDir(dataDir), 'backend-key.pub.pem'))));
    expect(image).toMatchObject({ ok: true });
    expect(Object.keys(image.ok ? image.manifest.files : {}).some((f) => f.includes('espeak'))).toBe(false);
    const again = await runCli(['image', 'build', '--out', out, '--image-version', '2.0.0-rc.1', '--lang', 'en-US', '--data', dataDir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists: choose another version \(--image-version\), or pass --force/);
  }, 90_000);

  it('refuses without a backend key, and an unknown language, saying what to do', async () => {
    const noKey = await runCli(['image', 'build', '--out', path.join(tmp, 'x'), '--data', path.join(tmp, 'empty')]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no backend signing key in .*empty\/broker: start the broker once/);
    const lang = await runCli(['image', 'build', '--lang', 'fr-FR', '--data', dataDir]);
    expect(lang.code).toBe(2);
    expect(lang.stderr).toMatch(/--lang "fr-FR" is not a language payspeaker speaks: use zh-CN, en-US, hi-IN/);
  });
});

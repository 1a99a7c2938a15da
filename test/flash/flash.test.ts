/**
 * `payspeaker flash` end to end, all real: an OpenSSH server on 127.0.0.1 (the "Pi"), a temp
 * folder as its disk (--root), a secure broker with its backend key, an image built by
 * `image build`'s code, and the supervisor fixture in systemd's place (this machine has no
 * systemd to run a unit in: `--init none --restart-command "kill -HUP …"`). The supervisor runs
 * the flashed loader with Node 18 where test/support/node18.ts finds one (as on a Pi with
 * Debian's nodejs), else with this Node.
 *
 * One device goes through: a first flash onto a fresh disk (then a signed payment is announced
 * and written as a WAV), a second flash (from a release) that updates in place into the other slot, a
 * correctly signed image whose firmware crashes at start, and one whose firmware never comes
 * online: both are rolled back and the previous version comes back online.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../tools/image/build.ts';
import { signImageDir } from '../../tools/image/manifest.ts';
import { packRelease } from '../../tools/image/release.ts';
import { imageFolderName } from '../../src/firmware/image.ts';
import { readState, rootPaths } from '../../device/boot/slots.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { peak } from '../../src/audio/volume.ts';
import { runCli } from '../support/cli.ts';
import { findNode18 } from '../support/node18.ts';
import { startSshd, type TestSshd } from '../support/sshd.ts';
import { needs } from '../support/prerequisites.ts';
import { runFlash, startBackend, Supervisor, buildTestImage, cleanUp, type TestBackend } from './helpers.ts';

const ssh = needs('sshd', 'ssh-keygen');
const DEVICE = 'SPK-FLASH';

describe.skipIf(ssh.missing)(`flash over SSH, end to end${ssh.note}`, () => {
  let sshd: TestSshd;
  let backend: TestBackend;
  let work: string;
  let root: string;
  let wavDir: string;
  let config: string;
  let v1: BuiltImage;
  let supervisor: Supervisor;
  let node = process.execPath;

  /** A copy of v1 under another version, changed by `change`, signed like a build. */
  function variant(version: string, change: (dir: string) => void = () => {}): string {
    const dir = path.join(work, 'firmware', imageFolderName(version));
    fs.cpSync(v1.dir, dir, { recursive: true });
    change(dir);
    signImageDir(dir, { version, builtAt: new Date().toISOString(), privateKey: backend.privateKey });
    return dir;
  }

  const flashImage = (image: string, extra: string[] = []) =>
    runFlash(sshd, ['--config', config, '--image', image, '--data', backend.dir, '--json', ...extra], {
      root,
      timeoutMs: 100_000,
    });

  beforeAll(async () => {
    [sshd, backend] = await Promise.all([startSshd(), startBackend()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-flash-'));
    root = path.join(work, 'pi', 'opt', 'payspeaker');
    wavDir = path.join(work, 'wav');
    config = await backend.provision(DEVICE, { board: 'headless', audio: `file:${wavDir}`, lang: 'zh-CN' });
    v1 = await buildTestImage(path.join(work, 'firmware'), '1.0.0', backend.privateKey);
    const node18 = await findNode18();
    if (node18.ok) node = node18.path;
    // The Pi's service manager, up before the first flash: it waits for ROOT/boot.cjs.
    supervisor = new Supervisor(root, node);
    await supervisor.ready();
  }, 120_000);

  afterAll(() => cleanUp({ supervisor, sshd, backend, work }));

  it('flashes a fresh device: the supervisor starts the image, it comes online with its version and announces a signed payment', async () => {
    const r = await flashImage(v1.dir);
    expect(r.code, `${r.stderr}\n${supervisor.log()}`).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      device: DEVICE,
      slot: 'b',
      version: '1.0.0',
      fresh: true,
      previous: { slot: 'a', version: null },
    });
    for (let n = 1; n <= 9; n++) expect(r.stderr).toContain(`[${n}/9]`);
    expect(r.stderr).toMatch(/\[5\/9\] uploading image to slot b \(\d+(\.\d)? (kB|MB)\)/);

    const paths = rootPaths(root);
    expect(readState(root)).toMatchObject({
      active: 'b',
      trial: null,
      versions: { b: '1.0.0' },
      last: { result: 'updated', version: '1.0.0', by: 'flash' },
    });
    expect(fs.readFileSync(paths.loader)).toEqual(fs.readFileSync(path.join(v1.dir, 'boot.cjs')));
    expect(fs.statSync(paths.config).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(paths.config, 'utf8')).toBe(fs.readFileSync(config, 'utf8'));
    expect(fs.readdirSync(path.join(root, 'slots'))).toEqual(['b']);
    // The unit copy has the root and the device's Node filled in.
    expect(fs.readFileSync(path.join(root, 'run', 'payspeaker.service'), 'utf8')).toContain(
      `ExecStart=/usr/bin/node ${root}/boot.cjs`,
    );

    const pay = await runCli([
      'pay',
      '--direct',
      '123.45',
      '--device',
      DEVICE,
      '--broker',
      backend.url,
      '--data',
      backend.dir,
      '--id',
      'PAY-FLASH-1',
      '--json',
    ]);
    expect(pay.code, `${pay.stderr}\n${supervisor.log()}`).toBe(0);
    expect(JSON.parse(pay.stdout)).toMatchObject({ status: 'played', text: '微信收款一百二十三点四五元' });
    const wavs = fs.readdirSync(wavDir).filter((f) => f.includes('PAY-FLASH-1') && f.endsWith('.wav'));
    expect(wavs).toHaveLength(1);
    const pcm = decodeWav(fs.readFileSync(path.join(wavDir, wavs[0]!)));
    expect(pcm.samples.length).toBeGreaterThan(1000);
    expect(peak(pcm)).toBeGreaterThan(1000); // speech, not silence (int16 peak)
  }, 120_000);

  it('a second flash, from a release (tar.gz + signed JSON), updates in place: the other slot, the new version online, the old one kept as the fallback', async () => {
    const { releaseFile } = await packRelease(variant('2.0.0'), backend.privateKey);
    const r = await runFlash(
      sshd,
      ['--config', config, '--image-release', releaseFile, '--data', backend.dir, '--json'],
      { root, timeoutMs: 100_000 },
    );
    expect(r.code, `${r.stderr}\n${supervisor.log()}`).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      slot: 'a',
      version: '2.0.0',
      fresh: false,
      previous: { slot: 'b', version: '1.0.0' },
    });
    expect(readState(root)).toMatchObject({
      active: 'a',
      trial: null,
      versions: { a: '2.0.0', b: '1.0.0' },
      last: { result: 'updated', version: '2.0.0' },
    });
    const pay = await runCli([
      'pay',
      '--direct',
      '5',
      '--device',
      DEVICE,
      '--broker',
      backend.url,
      '--data',
      backend.dir,
      '--id',
      'PAY-FLASH-2',
      '--json',
    ]);
    expect(JSON.parse(pay.stdout)).toMatchObject({ status: 'played' });
  }, 120_000);

  it('an image whose firmware crashes at start is rolled back: exit 3, why, the loader log, and the old version online again', async () => {
    const broken = variant('3.0.0-broken', (dir) =>
      fs.writeFileSync(
        path.join(dir, 'firmware.cjs'),
        'console.error("boom: this firmware crashes at start"); process.exit(3);\n',
      ),
    );
    const r = await flashImage(broken, ['--timeout', '40s']);
    expect(r.code, r.stderr).toBe(3);
    const result = JSON.parse(r.stdout) as {
      ok: boolean;
      kind: string;
      error: string;
      log: string[];
      previousOnline: boolean;
    };
    expect(result).toMatchObject({ ok: false, kind: 'rolled-back', previousOnline: true });
    expect(r.stderr).toMatch(
      /3\.0\.0-broken was rolled back on 127\.0\.0\.1: 3\.0\.0-broken (stopped \d+ times before it came online|did not come online within 40 s)/,
    );
    expect(r.stderr).toContain('2.0.0 is online again (slot a)');
    expect(r.stderr).toContain('boom: this firmware crashes at start');
    expect(result.log.join('\n')).toContain('boom');
    expect(readState(root)).toMatchObject({
      active: 'a',
      trial: null,
      versions: { a: '2.0.0', b: '3.0.0-broken' },
      last: { result: 'rolled-back', version: '3.0.0-broken' },
    });
    const pay = await runCli([
      'pay',
      '--direct',
      '7',
      '--device',
      DEVICE,
      '--broker',
      backend.url,
      '--data',
      backend.dir,
      '--id',
      'PAY-FLASH-3',
      '--json',
    ]);
    expect(JSON.parse(pay.stdout)).toMatchObject({ status: 'played' });
  }, 120_000);

  it('an image whose firmware never comes online is rolled back at the deadline, and the old version comes back', async () => {
    const silent = variant('4.0.0-silent', (dir) =>
      fs.writeFileSync(
        path.join(dir, 'firmware.cjs'),
        'console.log("silent firmware: never connects"); setInterval(() => {}, 1000);\n',
      ),
    );
    const r = await flashImage(silent, ['--timeout', '8s']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /4\.0\.0-silent was rolled back on 127\.0\.0\.1: 4\.0\.0-silent did not come online within 8 s; 2\.0\.0 is online again \(slot a\)/,
    );
    expect(r.stderr).toContain('silent firmware: never connects');
    expect(readState(root)).toMatchObject({
      active: 'a',
      trial: null,
      versions: { a: '2.0.0', b: '4.0.0-silent' },
      last: { result: 'rolled-back', version: '4.0.0-silent' },
    });
  }, 120_000);
});

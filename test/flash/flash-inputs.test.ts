/**
 * `payspeaker flash` refusing what it must refuse, against a real sshd on 127.0.0.1, before
 * anything reaches the device: --dry-run, an unreachable host, a key the device does not
 * accept, an unknown or changed host key, and images whose signature or files do not verify.
 * The images here are hand-made in the real format (they are never run).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../tools/chaos/ports.ts';
import { startSshd, writeKeyPair, type TestSshd } from '../support/sshd.ts';
import { needs } from '../support/prerequisites.ts';
import { handMadeImage, runFlash, snapshot, startBackend, type TestBackend } from './helpers.ts';
import { readState, writeState, initialState } from '../../device/boot/slots.ts';
import { packRelease } from '../../tools/image/release.ts';

const ssh = needs('sshd', 'ssh-keygen');
const DEVICE = 'SPK-FLASH-IN';

describe.skipIf(ssh.missing)(`flash refuses bad inputs before anything is sent${ssh.note}`, () => {
  let sshd: TestSshd;
  let backend: TestBackend;
  let work: string;
  let config: string;
  let image: string;

  beforeAll(async () => {
    [sshd, backend] = await Promise.all([startSshd(), startBackend()]);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-flash-in-'));
    config = await backend.provision(DEVICE, { board: 'headless', audio: 'none' });
    image = handMadeImage(work, '9.9.9-test', backend.privateKey);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([sshd?.stop(), backend?.stop()]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** A device already running 1.0.0 from slot a. */
  function installedRoot(): string {
    const root = fs.mkdtempSync(path.join(work, 'root-'));
    fs.mkdirSync(path.join(root, 'slots', 'a'), { recursive: true });
    fs.writeFileSync(path.join(root, 'slots', 'a', 'firmware.cjs'), '// 1.0.0\n');
    writeState(root, { ...initialState(), versions: { a: '1.0.0', b: null } });
    return root;
  }

  it('--dry-run prints every step with paths and the slot, and changes nothing on the device', async () => {
    const root = installedRoot();
    const before = snapshot(root);
    const r = await runFlash(sshd, ['--config', config, '--image', image, '--dry-run', '--json'], { root });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      dryRun: boolean;
      slot: string;
      version: string;
      previous: { slot: string; version: string };
      plan: { step: number; name: string; detail: string }[];
    };
    expect(result).toMatchObject({
      dryRun: true,
      slot: 'b',
      version: '9.9.9-test',
      previous: { slot: 'a', version: '1.0.0' },
    });
    expect(result.plan.map((p) => p.name)).toEqual([
      'connect',
      'node',
      'state',
      'verify',
      'upload',
      'config',
      'service',
      'switch',
      'online',
    ]);
    const detail = (name: string) => result.plan.find((p) => p.name === name)!.detail;
    expect(detail('upload')).toContain(path.join(root, 'slots', 'b'));
    expect(detail('config')).toContain(path.join(root, 'config', 'device.json'));
    expect(detail('switch')).toMatch(/slot b on trial with 9\.9\.9-test/);
    expect(detail('online')).toMatch(/roll back to slot a \(1\.0\.0\)/);
    // Progress lines name each step as [n/9].
    for (let n = 1; n <= 4; n++) expect(r.stderr).toContain(`[${n}/9]`);
    expect(r.stderr).toContain('--dry-run: nothing was changed');
    expect(snapshot(root)).toEqual(before);
  });

  it('an unreachable device: exit 5 and which address could not be reached', async () => {
    const closed = { ...sshd, port: await freePort() }; // nothing listens there;
    const r = await runFlash(closed, ['--config', config, '--image', image], { root: installedRoot() });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`cannot reach 127\\.0\\.0\\.1:${closed.port} \\(connection refused`));
  });

  it('a key the device does not accept: exit 6, the key tried and how to install it', async () => {
    const other = path.join(work, 'other_key');
    writeKeyPair(other, 'not-authorized');
    const root = installedRoot();
    const before = snapshot(root);
    const r = await runFlash({ ...sshd, identity: other }, ['--config', config, '--image', image], { root });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`refused the login with ${other}`);
    expect(r.stderr).toContain('authorized_keys');
    expect(snapshot(root)).toEqual(before);
  });

  it('an unknown host key is refused with its fingerprint; --accept-host-key with that fingerprint trusts it and records it', async () => {
    const knownHosts = path.join(work, 'known_hosts_empty');
    fs.writeFileSync(knownHosts, '');
    const root = installedRoot();
    const refused = await runFlash(sshd, ['--config', config, '--image', image, '--dry-run'], { root, knownHosts });
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain(`its ssh-ed25519 host key is ${sshd.hostKeyFingerprint}`);
    expect(refused.stderr).toContain(`--accept-host-key ${sshd.hostKeyFingerprint}`);

    const wrong = await runFlash(
      sshd,
      [
        '--config',
        config,
        '--image',
        image,
        '--dry-run',
        '--accept-host-key',
        'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      ],
      { root, knownHosts },
    );
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toContain(
      `offered the host key ${sshd.hostKeyFingerprint}, not the one passed to --accept-host-key`,
    );
    expect(fs.readFileSync(knownHosts, 'utf8')).toBe('');

    const accepted = await runFlash(
      sshd,
      ['--config', config, '--image', image, '--dry-run', '--accept-host-key', sshd.hostKeyFingerprint],
      { root, knownHosts },
    );
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(fs.readFileSync(knownHosts, 'utf8')).toBe(`${sshd.knownHostsLine}\n`);
    const again = await runFlash(sshd, ['--config', config, '--image', image, '--dry-run'], { root, knownHosts });
    expect(again.code, again.stderr).toBe(0);
  });

  it('a changed host key is refused loudly, whatever --accept-host-key says', async () => {
    const knownHosts = path.join(work, 'known_hosts_changed');
    const otherHostKey = writeKeyPair(path.join(work, 'other_host_key'), 'other-host')
      .public.split(/\s+/)
      .slice(0, 2)
      .join(' ');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${otherHostKey}\n`);
    const r = await runFlash(
      sshd,
      ['--config', config, '--image', image, '--dry-run', '--accept-host-key', sshd.hostKeyFingerprint],
      { root: installedRoot(), knownHosts },
    );
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /host key of \[127\.0\.0\.1\]:\d+ is now SHA256:\S+, not the one in .*someone may be intercepting/,
    );
  });

  it('an image signed by another key, or with an altered file, is refused before the upload (exit 2)', async () => {
    const { privateKey: stranger } = generateKeyPairSync('ed25519');
    const forged = handMadeImage(fs.mkdtempSync(path.join(work, 'forged-')), '9.9.9-forged', stranger);
    const altered = handMadeImage(fs.mkdtempSync(path.join(work, 'altered-')), '9.9.9-altered', backend.privateKey);
    fs.appendFileSync(path.join(altered, 'firmware.cjs'), 'process.exit(0);\n');
    for (const [dir, reason] of [
      [forged, /the manifest signature of .* does not verify with the backend's public key/],
      [altered, /firmware\.cjs in .* is \d+ bytes, the manifest says \d+/],
    ] as const) {
      const root = installedRoot();
      const before = snapshot(root);
      const r = await runFlash(sshd, ['--config', config, '--image', dir], { root });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('the image was refused before anything was sent');
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).not.toContain('[5/9]');
      expect(snapshot(root)).toEqual(before);
    }
  });

  it('a release whose tarball was altered is refused before the upload (exit 2)', async () => {
    const parent = fs.mkdtempSync(path.join(work, 'release-'));
    const { releaseFile, tarball } = await packRelease(
      handMadeImage(parent, '9.9.9-release', backend.privateKey),
      backend.privateKey,
    );
    const bytes = fs.readFileSync(tarball);
    bytes[bytes.length - 10]! ^= 0xff;
    fs.writeFileSync(tarball, bytes);
    const root = installedRoot();
    const before = snapshot(root);
    const r = await runFlash(sshd, ['--config', config, '--image-release', releaseFile], { root });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--image-release .* was refused before anything was sent: the sha256 of .*\.tar\.gz is not release 9\.9\.9-release's/,
    );
    expect(snapshot(root)).toEqual(before);
  });

  it('a device config with bad firmware settings is refused before connecting (exit 2)', async () => {
    const bad = path.join(work, 'bad-board.json');
    fs.writeFileSync(bad, JSON.stringify({ ...JSON.parse(fs.readFileSync(config, 'utf8')), board: 'arduino' }));
    const r = await runFlash(sshd, ['--config', bad, '--image', image], { root: installedRoot() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--config .*bad-board\.json: .*board/);
    expect(r.stderr).not.toContain('[1/9]');
  });

  it("a restart that fails leaves the old slot active (exit 1), with the command's error", async () => {
    const root = installedRoot();
    const r = await runFlash(
      sshd,
      [
        '--config',
        config,
        '--image',
        image,
        '--data',
        backend.dir,
        '--restart-command',
        'echo "no such service" >&2; exit 3',
      ],
      { root },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /the restart command .* failed on 127\.0\.0\.1 \(exit 3\): no such service; slot a stays active/,
    );
    expect(readState(root)).toMatchObject({
      active: 'a',
      trial: null,
      versions: { a: '1.0.0', b: '9.9.9-test' },
      last: { result: 'rolled-back', version: '9.9.9-test' },
    });
    expect(readState(root).last!.reason).toMatch(/^the restart failed/);
  });

  it('refuses to flash the version the device already runs, and a missing image folder', async () => {
    const root = installedRoot();
    writeState(root, { ...initialState(), versions: { a: '9.9.9-test', b: null } });
    const same = await runFlash(sshd, ['--config', config, '--image', image], { root });
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('9.9.9-test is already running in slot a');
    const missing = await runFlash(sshd, ['--config', config, '--image', path.join(work, 'nope')], { root });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--image .*nope: no such folder/);
  });
});

/**
 * flash's systemd path over a real sshd. This machine has no systemd as init, so `systemctl`,
 * `journalctl` and `sudo` on the device are fakes (shell scripts first on the SSH session's
 * PATH through sshd's `SetEnv`) that record their command lines; `systemctl restart` SIGHUPs
 * the supervisor fixture, which runs the real loader and firmware. The unit goes to a temp
 * folder instead of /etc/systemd/system. What is real: the unit text installed, the order of
 * the systemctl calls, `sudo -n` for a user who is not root, the device coming online.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../tools/image/build.ts';
import { flash } from '../../tools/flash/flash.ts';
import { resolveImage } from '../../tools/flash/image-source.ts';
import { systemdManager } from '../../tools/flash/init/systemd.ts';
import { readBackendCredentials } from '../../broker/credentials.ts';
import { publicKeyFromString } from '../../src/protocol/signing-node.ts';
import { startSshd, type TestSshd } from '../support/sshd.ts';
import { needs } from '../support/prerequisites.ts';
import { restartCommand, startBackend, Supervisor, buildTestImage, cleanUp, type TestBackend } from './helpers.ts';

const ssh = needs('sshd', 'ssh-keygen');
const DEVICE = 'SPK-FLASH-SD';

describe.skipIf(ssh.missing)(`flash with systemd (fake systemctl, real sshd and firmware)${ssh.note}`, () => {
  let sshd: TestSshd;
  let backend: TestBackend;
  let work: string;
  let root: string;
  let fakebin: string;
  let unitDir: string;
  let calls: string;
  let config: string;
  let v1: BuiltImage;
  let supervisor: Supervisor;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-flash-sd-'));
    root = path.join(work, 'root');
    unitDir = path.join(work, 'etc-systemd-system');
    fakebin = path.join(work, 'bin');
    calls = path.join(work, 'calls.log');
    fs.mkdirSync(unitDir);
    fs.mkdirSync(fakebin);
    const script = (name: string, body: string) =>
      fs.writeFileSync(path.join(fakebin, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\n${body}\n`, {
        mode: 0o755,
      });
    script('systemctl', `[ "$1" = restart ] && ${restartCommand(root)}\nexit 0`);
    script('journalctl', `tail -n 20 '${root}/run/payspeaker.log'`);
    script('sudo', '[ "$1" = -n ] && shift\nexec "$@"');
    [sshd, backend] = await Promise.all([
      startSshd([`SetEnv PATH=${fakebin}:/usr/local/bin:/usr/bin:/bin`]),
      startBackend(),
    ]);
    config = await backend.provision(DEVICE, { board: 'headless', audio: 'none' });
    v1 = await buildTestImage(path.join(work, 'firmware'), '1.0.0', backend.privateKey);
    supervisor = new Supervisor(root);
    await supervisor.ready();
  }, 120_000);

  afterAll(() => cleanUp({ supervisor, sshd, backend, work }));

  it('installs the unit, reloads, enables and restarts through sudo -n for a user who is not root, and the device comes online', async () => {
    const deviceConfig = JSON.parse(fs.readFileSync(config, 'utf8')) as { backendPublicKey: string };
    const progress: string[] = [];
    const result = await flash({
      ssh: {
        target: { user: sshd.user, host: sshd.host, port: sshd.port },
        identity: sshd.identity,
        knownHostsFile: sshd.knownHosts,
        timeoutMs: 20_000,
      },
      root,
      device: { id: DEVICE, configBytes: fs.readFileSync(config), configFile: config, ca: null },
      image: () =>
        resolveImage({
          image: v1.dir,
          cwd: work,
          backendPublicKey: publicKeyFromString(deviceConfig.backendPublicKey),
        }),
      // As if the SSH user were not root (uid 1000): every privileged call goes through sudo -n.
      init: (system) => {
        expect(system.hasSystemd).toBe(true);
        return systemdManager({ root, uid: 1000, unitDir });
      },
      brokerUrl: backend.url,
      backendCredentials: readBackendCredentials(backend.dir),
      timeoutMs: 60_000,
      dryRun: false,
      progress: (line) => progress.push(line),
    });
    expect(result).toMatchObject({ ok: true, version: '1.0.0', slot: 'b' });
    const unit = fs.readFileSync(path.join(unitDir, 'payspeaker.service'), 'utf8');
    expect(unit).toContain(`ExecStart=/usr/bin/node ${root}/boot.cjs`);
    expect(unit).toContain(`WorkingDirectory=${root}`);
    expect(unit).toContain(`User=${sshd.user}`);
    expect(unit).not.toContain('@');
    const log = fs.readFileSync(calls, 'utf8').trim().split('\n');
    expect(log).toEqual([
      `sudo -n install -m 0644 ${root}/run/payspeaker.service ${unitDir}/payspeaker.service`,
      'sudo -n systemctl daemon-reload',
      'systemctl daemon-reload',
      'sudo -n systemctl enable payspeaker.service',
      'systemctl enable payspeaker.service',
      'sudo -n systemctl restart payspeaker.service',
      'systemctl restart payspeaker.service',
    ]);
    expect(progress).toContain(`      ${unitDir}/payspeaker.service installed and enabled`);
  }, 120_000);
});

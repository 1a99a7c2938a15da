/**
 * `payspeaker flash`: put a firmware image on a device over SSH, A/B style (slots.ts), and keep
 * it only if it comes online. Nine steps, each reported as it starts:
 *
 *   1 connect · 2 check Node · 3 read the boot state · 4 verify the image (and reach the broker)
 *   5 upload into the inactive slot · 6 write the device config · 7 install the service
 *   8 begin the trial and restart · 9 wait for the device online with the new version
 *
 * If step 9 fails, the trial is rolled back (unless the loader already did), the service is
 * restarted, and flash waits for the old version to come back before it reports why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fillServiceUnit } from '../image/service-unit.ts';
import { beginTrial, inactiveSlot, rollBack, type BootState, type Slot } from '../../device/boot/slots.ts';
import { FlashError } from './errors.ts';
import type { LocalImage } from './image-source.ts';
import type { ServiceManager } from './init/service-manager.ts';
import { PresenceWatch } from './online.ts';
import {
  inspectSystem,
  installLoader,
  prepareRoot,
  readRemoteState,
  remotePaths,
  restoreDeviceConfig,
  shellQuote,
  uploadSlot,
  writeDeviceConfig,
  writeRemoteState,
  type RemoteSystem,
} from './remote-root.ts';
import { SshSession, type SshOptions } from './ssh.ts';
import type { Credentials } from '../../broker/credentials.ts';

export const STEPS = 9;

export interface FlashDevice {
  id: string;
  /** The config file's bytes, written to ROOT/config/device.json as they are. */
  configBytes: Buffer;
  configFile: string;
  ca: string | null;
}

export interface FlashOptions {
  ssh: SshOptions;
  /** Absolute path on the device. */
  root: string;
  device: FlashDevice;
  /** Resolves and verifies the local image (step 4). */
  image: () => Promise<LocalImage>;
  /** The service manager, once the device's system is known (step 2). */
  init: (system: RemoteSystem) => ServiceManager;
  brokerUrl: string;
  backendCredentials: Credentials | null;
  /** How long the new firmware has to come online (also the trial's deadline), and the old one to come back. */
  timeoutMs: number;
  dryRun: boolean;
  progress: (line: string) => void;
  now?: () => number;
}

export interface PlanStep {
  step: number;
  name: string;
  detail: string;
}

export interface FlashResult {
  ok: true;
  dryRun: boolean;
  device: string;
  host: string;
  root: string;
  slot: Slot;
  version: string;
  previous: { slot: Slot; version: string | null };
  /** The device had no boot state: nothing to roll back to. */
  fresh: boolean;
  hostKey: 'known' | 'accepted';
  plan?: PlanStep[];
  durationMs: number;
}

const mb = (bytes: number) =>
  bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function flash(opts: FlashOptions): Promise<FlashResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  const { target } = opts.ssh;
  const step = (n: number, text: string) => opts.progress(`[${n}/${STEPS}] ${text}`);
  if (!path.posix.isAbsolute(opts.root))
    throw new FlashError('input', `--root ${opts.root} must be an absolute path on the device, e.g. /opt/payspeaker`);
  const paths = remotePaths(opts.root);

  step(1, `connecting to ${target.user}@${target.host}:${target.port}…`);
  const ssh = await SshSession.connect(opts.ssh);
  let image: LocalImage | null = null;
  let watch: PresenceWatch | null = null;
  try {
    if (ssh.hostKey === 'accepted') opts.progress(`      host key accepted and added to ${opts.ssh.knownHostsFile}`);
    step(2, 'checking Node on the device…');
    const system = await inspectSystem(ssh);
    opts.progress(`      Node ${system.nodeVersion} at ${system.nodePath}`);
    const init = opts.init(system);

    step(3, `reading ${paths.state}…`);
    const { state, fresh } = await readRemoteState(ssh, opts.root);
    if (state.trial) {
      throw new FlashError(
        'remote',
        `slot ${state.trial.slot} on ${target.host} is on trial with ${state.trial.version} (begun by ${state.trial.by}): wait for it to confirm or roll back (at most ${Math.round(state.trial.deadlineMs / 1000)} s), then flash again`,
      );
    }
    const slot = inactiveSlot(state);
    const previous = { slot: state.active, version: state.versions[state.active] };
    opts.progress(
      fresh
        ? '      no boot state: a fresh device'
        : `      slot ${state.active} active with ${previous.version ?? '(nothing)'}; writing slot ${slot}`,
    );

    step(4, "verifying the image with the device's backend key…");
    image = await opts.image();
    const version = image.manifest.version;
    opts.progress(
      `      ${version} from ${image.source}: ${Object.keys(image.manifest.files).length} files, ${mb(image.bytes)}, signature and hashes ok`,
    );
    if (previous.version === version) {
      throw new FlashError(
        'input',
        `${version} is already running in slot ${previous.slot} on ${target.host}: build a new image (each build gets its own version) to update`,
      );
    }
    const unit = fillUnit(image, opts.root, target.user, system.nodePath);

    const plan: PlanStep[] = [
      { step: 1, name: 'connect', detail: `${target.user}@${target.host}:${target.port}, host key ${ssh.hostKey}` },
      { step: 2, name: 'node', detail: `Node ${system.nodeVersion} at ${system.nodePath}` },
      {
        step: 3,
        name: 'state',
        detail: fresh
          ? `${paths.state}: none (fresh device)`
          : `${paths.state}: slot ${state.active} active with ${previous.version ?? '(nothing)'}`,
      },
      {
        step: 4,
        name: 'verify',
        detail: `${version} from ${image.source}: signature and ${Object.keys(image.manifest.files).length} file hashes ok`,
      },
      {
        step: 5,
        name: 'upload',
        detail: `${mb(image.bytes)} to ${paths.incoming(slot)}, checked on the device, moved to ${paths.slot(slot)}; ${image.manifest.loader} copied to ${paths.loader}`,
      },
      { step: 6, name: 'config', detail: `${opts.device.configFile} → ${paths.config} (mode 0600)` },
      { step: 7, name: 'service', detail: `${init.kind}: ${init.plan().install}` },
      {
        step: 8,
        name: 'switch',
        detail: `${paths.state}: slot ${slot} on trial with ${version} (deadline ${opts.timeoutMs / 1000} s), then ${init.plan().restart}`,
      },
      {
        step: 9,
        name: 'online',
        detail: `wait up to ${opts.timeoutMs / 1000} s for ${opts.device.id} online with ${version} on ${opts.brokerUrl}; else roll back to slot ${previous.slot} (${previous.version ?? 'empty'})`,
      },
    ];
    const result = {
      ok: true as const,
      device: opts.device.id,
      host: target.host,
      root: opts.root,
      slot,
      version,
      previous,
      fresh,
      hostKey: ssh.hostKey,
    };
    if (opts.dryRun) {
      opts.progress('      --dry-run: nothing was changed on the device; the plan:');
      for (const p of plan.slice(4)) opts.progress(`[${p.step}/${STEPS}] ${p.name}: ${p.detail}`);
      return { ...result, dryRun: true, plan, durationMs: now() - started };
    }
    // Before anything is sent: a flash that cannot see whether it worked should not begin.
    watch = await PresenceWatch.open({
      brokerUrl: opts.brokerUrl,
      device: opts.device.id,
      credentials: opts.backendCredentials,
      ca: opts.device.ca,
    });

    step(5, `uploading image to slot ${slot} (${mb(image.bytes)})…`);
    await prepareRoot(ssh, opts.root, system.uid);
    await uploadSlot(ssh, opts.root, slot, image);
    // The loader is what rolls a bad trial back, so a new one replaces the working one only once
    // the trial has succeeded; a fresh device needs one to boot at all.
    if (fresh) await installLoader(ssh, opts.root, slot, image.manifest);

    step(6, `writing ${paths.config}…`);
    await writeDeviceConfig(ssh, opts.root, opts.device.configBytes);

    step(7, `installing the service (${init.kind})…`);
    opts.progress(`      ${await init.install(ssh, unit)}`);

    step(8, `switching to slot ${slot} (trial of ${opts.timeoutMs / 1000} s) and restarting…`);
    const current = await readRemoteState(ssh, opts.root);
    const trial = beginTrial(current.state, { slot, version, deadlineMs: opts.timeoutMs, by: 'flash', now: now() });
    await writeRemoteState(ssh, opts.root, trial);
    await init.restart(ssh).catch(async (err: Error) => {
      // Not left half switched: the running loader would boot the trial at its next restart.
      await writeRemoteState(ssh, opts.root, rollBack(trial, `the restart failed: ${err.message}`, now()));
      throw new FlashError('remote', `${err.message}; slot ${previous.slot} stays active`);
    });

    step(9, `waiting for ${opts.device.id} to come online with ${version} (up to ${opts.timeoutMs / 1000} s)…`);
    const outcome = await awaitTrial(ssh, opts.root, watch, version, opts.timeoutMs, now);
    if (outcome.ok) {
      if (!fresh) await installLoader(ssh, opts.root, slot, image.manifest);
      await ssh.run(`rm -f ${shellQuote(`${paths.config}.prev`)}`, 'removing the previous device config');
      return { ...result, dryRun: false, durationMs: now() - started };
    }
    throw await recover(
      ssh,
      init,
      watch,
      { ...opts, now },
      { version, previous, fresh, reason: outcome.reason, by: outcome.by },
    );
  } finally {
    image?.dispose();
    await watch?.close();
    ssh.close();
  }
}

function fillUnit(image: LocalImage, root: string, sshUser: string, nodePath: string): string {
  const template = fs.readFileSync(path.join(image.dir, 'payspeaker.service'), 'utf8');
  try {
    return fillServiceUnit(template, { root, user: sshUser, node: nodePath });
  } catch (err) {
    throw new FlashError('input', `cannot fill in the image's payspeaker.service: ${(err as Error).message}`);
  }
}

type TrialOutcome = { ok: true } | { ok: false; reason: string; by: 'loader' | 'flash' };

/** Online with `version` and confirmed in state.json, or why not: the loader rolled it back, or time ran out. */
async function awaitTrial(
  ssh: SshSession,
  root: string,
  watch: PresenceWatch,
  version: string,
  timeoutMs: number,
  now: () => number,
): Promise<TrialOutcome> {
  const deadline = now() + timeoutMs;
  let lastStateCheck = 0;
  let confirmed = false;
  while (now() < deadline) {
    if (now() - lastStateCheck >= 1000) {
      lastStateCheck = now();
      const { state } = await readRemoteState(ssh, root);
      const last = state.last;
      if (!state.trial && last?.version === version && last.result === 'rolled-back')
        return { ok: false, reason: last.reason ?? 'the loader rolled it back', by: 'loader' };
      confirmed = !state.trial && last?.version === version && last.result === 'updated';
    }
    if (confirmed && watch.isOnlineWith(version)) return { ok: true };
    await sleep(200);
  }
  const online = watch.isOnlineWith(version);
  const within = `within ${Math.round(timeoutMs / 1000)} s`;
  return {
    ok: false,
    by: 'flash',
    reason: online
      ? `${version} came online but did not confirm its trial ${within}`
      : `${version} did not come online ${within}`,
  };
}

interface Failure {
  version: string;
  previous: { slot: Slot; version: string | null };
  fresh: boolean;
  reason: string;
  by: 'loader' | 'flash';
}

async function restoreConfig(ssh: SshSession, opts: FlashOptions): Promise<boolean> {
  const restored = await restoreDeviceConfig(ssh, opts.root);
  if (restored) opts.progress('      restored the previous device config');
  return restored;
}

/** Back to the previous slot (unless the loader did it), restart, and wait for the old version. */
async function recover(
  ssh: SshSession,
  init: ServiceManager,
  watch: PresenceWatch,
  opts: FlashOptions & { now: () => number },
  f: Failure,
): Promise<FlashError> {
  const { now } = opts;
  let reason = f.reason;
  if (f.by === 'flash') {
    const { state } = await readRemoteState(ssh, opts.root);
    // Confirmed in the last moment, or online on a broker flash does not watch: kept, not rolled back.
    if (!state.trial && state.last?.version === f.version && state.last.result === 'updated') {
      return new FlashError(
        'remote',
        `${f.version} is installed and confirmed on ${ssh.target.host} (slot ${state.active}), but flash did not see it online on ${opts.brokerUrl}: check that this is the broker the device uses (--broker)`,
        { kept: true },
      );
    }
    let next: BootState | null = null;
    if (state.trial?.version === f.version) next = rollBack(state, reason, now());
    else if (state.last?.version === f.version && state.last.result === 'rolled-back')
      reason = state.last.reason ?? reason; // the loader got there first
    if (next) {
      opts.progress(`      rolling back to slot ${f.previous.slot} (${f.previous.version ?? 'empty'}): ${reason}`);
      await restoreConfig(ssh, opts);
      await writeRemoteState(ssh, opts.root, next);
      await init.restart(ssh);
    }
  } else {
    opts.progress(
      `      the device rolled back to slot ${f.previous.slot} (${f.previous.version ?? 'empty'}): ${reason}`,
    );
    // The old firmware is running already, with the new config: give it its own back.
    if (await restoreConfig(ssh, opts)) await init.restart(ssh);
  }
  const log = await init.recentLog(ssh, 20).catch(() => []);
  const tail = log.length > 0 ? `\nlast lines the loader logged:\n  ${log.join('\n  ')}` : '';
  const details = { reason, rolledBackTo: f.previous, log };
  if (f.fresh || !f.previous.version) {
    return new FlashError(
      'rolled-back',
      `${f.version} was not kept on ${ssh.target.host}: ${reason}. The device had no earlier firmware to go back to: fix the image and flash again${tail}`,
      details,
    );
  }
  opts.progress(`      waiting for ${opts.device.id} to come back online with ${f.previous.version}…`);
  const deadline = now() + opts.timeoutMs;
  while (now() < deadline && !watch.isOnlineWith(f.previous.version)) await sleep(200);
  const back = watch.isOnlineWith(f.previous.version);
  const after = back
    ? `${f.previous.version} is online again (slot ${f.previous.slot})`
    : `and ${f.previous.version} did not come back online within ${opts.timeoutMs / 1000} s either: check the device`;
  return new FlashError(
    'rolled-back',
    `${f.version} was rolled back on ${ssh.target.host}: ${reason}; ${after}${tail}`,
    { ...details, previousOnline: back },
  );
}

/**
 * The loader, bundled into ROOT/boot.cjs and run by systemd (or any supervisor) as
 * `node ROOT/boot.cjs`. It is the one piece that never changes with an update, so it stays
 * small: read state.json, count a trial's boots and roll a failed trial back, run the active
 * slot's firmware.cjs, and run it again when it exits.
 *
 *   - A trial slot must confirm (the firmware does once it is online) before its deadline, and
 *     must not crash more than MAX_TRIAL_BOOTS times; else the previous slot is made active
 *     again with the reason in state.last.
 *   - A firmware that exits is restarted after a backoff that grows on repeated fast crashes.
 *     An exit after the state changed (the OTA updater began a trial, flash switched slots) boots
 *     the new active slot at once.
 *   - SIGTERM / SIGINT are passed to the firmware; the loader exits once it has.
 *
 * One line per decision on stdout ("booting slot b 1.2.0 on trial…", "rolled back to slot a
 * because …"). Node 18, node: modules only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  MAX_TRIAL_BOOTS,
  readState,
  rollBack,
  rootPaths,
  trialExpired,
  updateState,
  type BootState,
  type Slot,
} from './slots.ts';
import { readManifest } from '../../src/firmware/image-files.ts';

/** Firmware that ran less than this before exiting counts as a fast crash: the backoff grows. */
const FAST_EXIT_MS = 10_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** How often a running trial is checked for its confirmation and its deadline. */
const TRIAL_POLL_MS = 250;
/** SIGTERM, then SIGKILL if the firmware has not exited by then. */
const KILL_AFTER_MS = 5_000;

const ENTRY = 'firmware.cjs';

function say(line: string): void {
  process.stdout.write(`${new Date().toISOString()} loader: ${line}\n`);
}

const sleep = (ms: number, cancel: { wake?: () => void }): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    cancel.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

/** "slot b 1.2.0": the state's word for the version, else the slot's manifest (a fresh install has no state yet). */
function describe(state: BootState, slot: Slot, root: string): string {
  let version = state.versions[slot];
  if (!version) {
    try {
      version = readManifest(rootPaths(root).slot(slot)).version;
    } catch {
      version = '(no image)';
    }
  }
  return `slot ${slot} ${version}`;
}

/** A fingerprint of what decides the next boot: if it changed while the firmware ran, boot again at once. */
const bootKey = (s: BootState): string => JSON.stringify([s.active, s.trial?.slot ?? null, s.trial?.startedAt ?? null]);

class Loader {
  private child: ChildProcess | null = null;
  private stopping = false;
  private readonly nap: { wake?: () => void } = {};
  private fastExits = 0;

  constructor(private readonly root: string) {}

  async run(): Promise<void> {
    const pidFile = path.join(this.root, 'run', 'loader.pid');
    fs.mkdirSync(path.dirname(pidFile), { recursive: true });
    fs.writeFileSync(pidFile, `${process.pid}\n`);
    process.on('SIGTERM', () => this.stop('SIGTERM'));
    process.on('SIGINT', () => this.stop('SIGINT'));
    say(`started (pid ${process.pid}, root ${this.root}, node ${process.version})`);
    try {
      while (!this.stopping) await this.bootOnce();
    } finally {
      fs.rmSync(pidFile, { force: true });
    }
    say('stopped');
  }

  private stop(signal: NodeJS.Signals): void {
    if (this.stopping) return;
    this.stopping = true;
    say(`${signal}: stopping${this.child ? ' the firmware' : ''}`);
    this.nap.wake?.();
    if (this.child) this.kill(this.child, signal);
  }

  /** One turn of the loop: decide, run the firmware until it exits, then wait as the exit deserves. */
  private async bootOnce(): Promise<void> {
    const state = this.decide();
    if (!state) return this.pause(5_000);
    const slot = state.active;
    const entry = path.join(rootPaths(this.root).slot(slot), ENTRY);
    if (!fs.existsSync(entry)) {
      if (state.trial) {
        this.rollBackNow(`${state.trial.version} has no ${ENTRY} in slot ${slot}`);
        return;
      }
      say(
        `${describe(state, slot, this.root)} has no ${ENTRY}: nothing to boot; flash the device (npx payspeaker flash HOST --config …)`,
      );
      return this.pause(10_000);
    }
    const trial = state.trial;
    say(
      trial
        ? `booting ${describe(state, slot, this.root)} on trial (boot ${trial.boots} of at most ${MAX_TRIAL_BOOTS}, must come online within ${Math.round(trial.deadlineMs / 1000)} s of the update)`
        : `booting ${describe(state, slot, this.root)}`,
    );
    const started = Date.now();
    const exit = await this.runFirmware(
      entry,
      slot,
      trial ? () => this.watchTrial(trial.startedAt + trial.deadlineMs) : null,
    );
    const ran = Date.now() - started;
    if (this.stopping) return;
    const after = this.tryRead();
    if (after && bootKey(after) !== bootKey(state)) {
      say(
        `firmware exited (${exit}) after the boot state changed: booting ${describe(after, after.active, this.root)}`,
      );
      this.fastExits = 0;
      return;
    }
    this.fastExits = ran < FAST_EXIT_MS ? this.fastExits + 1 : 0;
    const wait =
      this.fastExits === 0 ? BACKOFF_FIRST_MS : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.fastExits - 1));
    say(`firmware exited (${exit}) after ${(ran / 1000).toFixed(1)} s; restarting in ${(wait / 1000).toFixed(1)} s`);
    await this.pause(wait);
  }

  /** Reads the state, counts a trial boot, and rolls back a trial that has had its chance. Null: unreadable. */
  private decide(): BootState | null {
    let state = this.tryRead();
    if (!state) return null;
    if (!state.trial) return state;
    // The deadline runs on this device's clock from the trial's first boot: whoever began the
    // trial (flash, on a laptop whose clock may differ by more than the deadline) stamped theirs.
    const now = Date.now();
    state = updateState(this.root, (s) =>
      s.trial
        ? { ...s, trial: { ...s.trial, boots: s.trial.boots + 1, ...(s.trial.boots === 0 && { startedAt: now }) } }
        : s,
    );
    const why = trialExpired(state, now);
    return why ? this.rollBackNow(why) : state;
  }

  private rollBackNow(why: string): BootState {
    const state = updateState(this.root, (s) => rollBack(s, why, Date.now()));
    say(`rolled back to ${describe(state, state.active, this.root)} because ${why}`);
    return state;
  }

  private tryRead(): BootState | null {
    try {
      return readState(this.root);
    } catch (err) {
      say(`cannot read ${rootPaths(this.root).state}: ${(err as Error).message}; retrying in 5 s`);
      return null;
    }
  }

  /** Runs the firmware to its exit; `watch`, if given, runs alongside and may kill it. Resolves with how it ended. */
  private runFirmware(entry: string, slot: Slot, watch: (() => () => void) | null): Promise<string> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [entry], {
        cwd: path.dirname(entry),
        stdio: 'inherit',
        env: { ...process.env, PAYSPEAKER_ROOT: this.root, PAYSPEAKER_SLOT: slot },
      });
      this.child = child;
      const unwatch = watch?.();
      const done = (how: string) => {
        unwatch?.();
        this.child = null;
        resolve(how);
      };
      child.on('error', (err) => done(`could not start: ${err.message}`));
      child.on('exit', (code, signal) => done(signal ? `signal ${signal}` : `code ${code}`));
    });
  }

  /**
   * While a trial runs: note its confirmation, and at its deadline stop an unconfirmed firmware
   * (the next turn of the loop then rolls back with trialExpired's reason). Returns the stopper.
   */
  private watchTrial(deadline: number): () => void {
    const timer = setInterval(() => {
      const s = this.tryRead();
      if (!s) return;
      if (!s.trial) {
        clearInterval(timer);
        if (s.last?.result === 'updated') say(`trial of ${s.last.version} confirmed: slot ${s.active} stays active`);
        return;
      }
      if (Date.now() >= deadline && this.child) {
        clearInterval(timer);
        say(`${s.trial.version} did not confirm by its deadline: stopping it`);
        this.kill(this.child, 'SIGTERM');
      }
    }, TRIAL_POLL_MS);
    return () => clearInterval(timer);
  }

  private kill(child: ChildProcess, signal: NodeJS.Signals): void {
    child.kill(signal);
    const hard = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        say(`firmware (pid ${child.pid}) ignored ${signal} for ${KILL_AFTER_MS / 1000} s: SIGKILL`);
        child.kill('SIGKILL');
      }
    }, KILL_AFTER_MS);
    child.once('exit', () => clearTimeout(hard));
  }

  private pause(ms: number): Promise<void> {
    return this.stopping ? Promise.resolve() : sleep(ms, this.nap);
  }
}

/** ROOT is where boot.cjs lives, unless PAYSPEAKER_ROOT says otherwise. */
function rootDir(): string {
  if (process.env.PAYSPEAKER_ROOT) return path.resolve(process.env.PAYSPEAKER_ROOT);
  return path.dirname(path.resolve(process.argv[1] ?? '.'));
}

function main(): void {
  const root = rootDir();
  // A fresh install without a state file: slot a, as flash leaves it before the first trial.
  if (!fs.existsSync(rootPaths(root).state)) say(`no ${rootPaths(root).state}: booting slot a`);
  new Loader(root).run().then(
    () => process.exit(0),
    (err: Error) => {
      say(`failed: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
}

main();

/**
 * The device's disk, A/B style (as RAUC, Mender or Android do it): two slots, each holding one
 * complete firmware image, and a small state file that says which slot boots and whether a new
 * one is on trial. The contract shared by the loader on the device, `payspeaker flash` (which
 * edits the same files over SSH) and the over-the-air updater.
 *
 *   ROOT/                     /opt/payspeaker on a Pi; a temporary folder in tests
 *     boot.cjs                the loader: reads state.json, runs the active slot, rolls a failed trial back
 *     state.json              BootState, replaced atomically (write temp, fsync, rename)
 *     slots/a/ slots/b/       one image each: manifest.json, manifest.sig, firmware.cjs, voices/…
 *     config/device.json      the device's config ("payspeaker provision" output, plus board pins)
 *     data/                   NVS and anything else the firmware keeps across updates
 *
 * A trial: the updater (flash or OTA) writes the new image into the inactive slot, then
 * `beginTrial` makes it active with a deadline. The new firmware calls `confirm` once it is
 * online with the broker; if the deadline passes (or it crashes too often) the loader calls
 * `rollBack`, which makes the previous slot active again and records why. `last` keeps the
 * outcome so the firmware can report it after the restart.
 *
 * Node 18 compatible and dependency-free: the loader is bundled from this file.
 */
import fs from 'node:fs';
import path from 'node:path';

export const SLOTS = ['a', 'b'] as const;
export type Slot = (typeof SLOTS)[number];

/** Boots of a trial slot, counted by the loader, after which it is rolled back even before the deadline. */
export const MAX_TRIAL_BOOTS = 3;

export interface Trial {
  slot: Slot;
  /** The slot to go back to. */
  previous: Slot;
  version: string;
  /** Epoch ms when the trial began; the loader sets it again, on the device's own clock, at the trial's first boot. */
  startedAt: number;
  /** The new firmware must confirm within this many ms of startedAt. */
  deadlineMs: number;
  /** Boots of the trial slot so far (the loader counts them). */
  boots: number;
  /** Who started it: "flash" or "ota" (and the request id, for OTA). */
  by: string;
}

export interface Outcome {
  result: 'updated' | 'rolled-back';
  /** The version that was tried. */
  version: string;
  /** For rolled-back: why, in words a person can act on. */
  reason?: string;
  by: string;
  at: number;
  /** Set once the firmware has reported this outcome (e.g. as the OTA command's result). */
  reported?: boolean;
}

export interface BootState {
  v: 1;
  active: Slot;
  /** The version in each slot, as its manifest says; null for an empty slot. */
  versions: Record<Slot, string | null>;
  trial: Trial | null;
  last: Outcome | null;
}

export interface RootPaths {
  root: string;
  loader: string;
  state: string;
  slot(slot: Slot): string;
  config: string;
  data: string;
}

export function rootPaths(root: string): RootPaths {
  return {
    root,
    loader: path.join(root, 'boot.cjs'),
    state: path.join(root, 'state.json'),
    slot: (slot) => path.join(root, 'slots', slot),
    config: path.join(root, 'config', 'device.json'),
    data: path.join(root, 'data'),
  };
}

export const otherSlot = (slot: Slot): Slot => (slot === 'a' ? 'b' : 'a');

export function initialState(): BootState {
  return { v: 1, active: 'a', versions: { a: null, b: null }, trial: null, last: null };
}

/** The slot an update may write: the one not active. During a trial that is the fallback: start no update then (beginTrial refuses). */
export function inactiveSlot(state: BootState): Slot {
  return otherSlot(state.active);
}

export function beginTrial(
  state: BootState,
  t: { slot: Slot; version: string; deadlineMs: number; by: string; now: number },
): BootState {
  if (state.trial)
    throw new Error(
      `slot ${state.trial.slot} is already on trial with ${state.trial.version}: wait for it to confirm or roll back`,
    );
  if (t.slot === state.active)
    throw new Error(`slot ${t.slot} is the active slot: write the update to slot ${otherSlot(t.slot)}`);
  return {
    ...state,
    active: t.slot,
    versions: { ...state.versions, [t.slot]: t.version },
    trial: {
      slot: t.slot,
      previous: state.active,
      version: t.version,
      startedAt: t.now,
      deadlineMs: t.deadlineMs,
      boots: 0,
      by: t.by,
    },
  };
}

/** The trial firmware is online: keep it. A no-op without a trial. */
export function confirm(state: BootState, now: number): BootState {
  if (!state.trial) return state;
  const { version, by } = state.trial;
  return { ...state, trial: null, last: { result: 'updated', version, by, at: now } };
}

/** Back to the previous slot, recording why. A no-op without a trial. */
export function rollBack(state: BootState, reason: string, now: number): BootState {
  if (!state.trial) return state;
  const { version, by, previous } = state.trial;
  return { ...state, active: previous, trial: null, last: { result: 'rolled-back', version, reason, by, at: now } };
}

/** Why a trial must end now, or null while it may go on. */
export function trialExpired(state: BootState, now: number): string | null {
  const t = state.trial;
  if (!t) return null;
  if (now - t.startedAt >= t.deadlineMs)
    return `${t.version} did not come online within ${Math.round(t.deadlineMs / 1000)} s`;
  if (t.boots > MAX_TRIAL_BOOTS) return `${t.version} stopped ${t.boots - 1} times before it came online`;
  return null;
}

export function readState(root: string): BootState {
  const file = rootPaths(root).state;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return initialState();
    throw err;
  }
  const state = JSON.parse(text) as BootState;
  if (state.v !== 1 || !SLOTS.includes(state.active))
    throw new Error(
      `${file} is not a payspeaker boot state (v ${String(state.v)}, active ${String(state.active)}): flash the device again`,
    );
  return state;
}

/** Replaces the state file atomically and durably: a power cut leaves the old or the new one. */
export function writeState(root: string, state: BootState): void {
  const file = rootPaths(root).state;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

/** Read, change, write. */
export function updateState(root: string, change: (state: BootState) => BootState): BootState {
  const next = change(readState(root));
  writeState(root, next);
  return next;
}

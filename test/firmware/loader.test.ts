/**
 * The loader (ROOT/boot.cjs, bundled from device/boot/loader.ts) with real processes: tiny
 * firmware.cjs files stand in for images (one that runs, one that crashes at start, one that
 * hangs and ignores SIGTERM, one that confirms its trial as the real firmware does once online).
 * Runs on Node 18 when test/support/node18.ts finds one, else on this Node.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { beginTrial, initialState, readState, type BootState } from '../../device/boot/slots.ts';
import { findNode18 } from '../support/node18.ts';
import { alive, installLoader, setState, startLoader, tempRoot, writeFakeSlot, type LineProcess } from './helpers.ts';

const PRELUDE = `
const fs = require('fs'), path = require('path');
const root = process.env.PAYSPEAKER_ROOT, slot = process.env.PAYSPEAKER_SLOT;
fs.appendFileSync(path.join(root, 'boots.log'), slot + ' ' + process.pid + '\\n');
`;
const RUNS = `${PRELUDE} setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));`;
const CRASHES = `${PRELUDE} process.exit(3);`;
const HANGS = `${PRELUDE} setInterval(() => {}, 1000); process.on('SIGTERM', () => {});`;
/** What device/boot/main.ts does once online: confirm its own slot's trial. */
const CONFIRMS = `${PRELUDE}
const file = path.join(root, 'state.json');
const s = JSON.parse(fs.readFileSync(file, 'utf8'));
if (s.trial && s.trial.slot === slot) {
  s.last = { result: 'updated', version: s.trial.version, by: s.trial.by, at: Date.now() };
  s.trial = null;
  fs.writeFileSync(file + '.tmp', JSON.stringify(s));
  fs.renameSync(file + '.tmp', file);
}
setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));`;

let node = process.execPath;
let root: string;
let loader: LineProcess | null = null;

beforeAll(async () => {
  const n18 = await findNode18();
  if (n18.ok) node = n18.path;
  else console.warn(`loader tests run on ${process.version}: ${n18.reason}`);
}, 120_000);

afterEach(async () => {
  await loader?.stop();
  loader = null;
  // Every firmware the loader started must be gone with it.
  for (const pid of boots().map((b) => b.pid)) expect(alive(pid), `firmware pid ${pid} outlived the loader`).toBe(false);
  fs.rmSync(root, { recursive: true, force: true });
});

async function setup(a: string, b: string | null, state: BootState): Promise<void> {
  root = tempRoot('loader');
  await installLoader(root);
  writeFakeSlot(root, 'a', a);
  if (b) writeFakeSlot(root, 'b', b);
  setState(root, state);
}

function boots(): { slot: string; pid: number }[] {
  const file = path.join(root, 'boots.log');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
    const [slot, pid] = l.split(' ');
    return { slot: slot!, pid: Number(pid) };
  });
}

const installed = (): BootState => ({ ...initialState(), versions: { a: '1.0.0', b: null } });
/** Slot b holds 2.0.0 and is on trial, as flash or OTA leave it. */
const onTrial = (deadlineMs: number): BootState => beginTrial({ ...installed(), versions: { a: '1.0.0', b: null } }, { slot: 'b', version: '2.0.0', deadlineMs, by: 'test', now: Date.now() });

describe('loader', () => {
  it('boots the active slot, writes run/loader.pid, and on SIGTERM stops the firmware and exits 0', async () => {
    await setup(RUNS, null, installed());
    loader = startLoader(root, node);
    await loader.waitForLine(/booting slot a 1\.0\.0$/);
    await expect.poll(() => boots().length).toBe(1);
    expect(fs.readFileSync(path.join(root, 'run', 'loader.pid'), 'utf8').trim()).toBe(String(loader.child.pid));
    const firmware = boots()[0]!.pid;
    expect(await loader.stop()).toEqual({ code: 0, signal: null });
    expect(alive(firmware)).toBe(false);
    expect(fs.existsSync(path.join(root, 'run', 'loader.pid'))).toBe(false);
    expect(loader.lines.join('\n')).toMatch(/SIGTERM: stopping the firmware/);
  });

  it('restarts a crashing firmware with a growing backoff', async () => {
    await setup(CRASHES, null, installed());
    loader = startLoader(root, node);
    await loader.waitForLine(/restarting in 2\.0 s/);
    const text = loader.lines.join('\n');
    expect(text).toMatch(/firmware exited \(code 3\) after [\d.]+ s; restarting in 0\.5 s/);
    expect(text).toMatch(/restarting in 1\.0 s/);
    expect(boots().every((b) => b.slot === 'a')).toBe(true);
  });

  it('rolls back a trial that crashes more than MAX_TRIAL_BOOTS times, and boots the old slot', async () => {
    await setup(RUNS, CRASHES, onTrial(60_000));
    loader = startLoader(root, node);
    await loader.waitForLine(/rolled back to slot a 1\.0\.0 because 2\.0\.0 stopped 3 times before it came online/);
    await loader.waitForLine(/booting slot a 1\.0\.0$/);
    const s = readState(root);
    expect(s).toMatchObject({ active: 'a', trial: null, last: { result: 'rolled-back', version: '2.0.0', by: 'test' } });
    expect(s.last!.reason).toMatch(/stopped 3 times/);
    await expect.poll(() => boots().map((b) => b.slot).join('')).toBe('bbba');
  });

  it('stops a trial that never confirms at its deadline (SIGKILL when it ignores SIGTERM) and rolls back', async () => {
    await setup(RUNS, HANGS, onTrial(2_000));
    loader = startLoader(root, node);
    await loader.waitForLine(/booting slot b 2\.0\.0 on trial \(boot 1 of at most 3, must come online within 2 s/);
    await loader.waitForLine(/2\.0\.0 did not confirm by its deadline: stopping it/, 10_000);
    await loader.waitForLine(/ignored SIGTERM for 5 s: SIGKILL/, 10_000);
    await loader.waitForLine(/rolled back to slot a 1\.0\.0 because 2\.0\.0 did not come online within 2 s/, 10_000);
    await loader.waitForLine(/booting slot a 1\.0\.0$/);
    expect(readState(root)).toMatchObject({ active: 'a', trial: null, last: { result: 'rolled-back', version: '2.0.0', reason: '2.0.0 did not come online within 2 s' } });
  }, 30_000);

  it('keeps a trial that confirms: no rollback after the deadline', async () => {
    await setup(RUNS, CONFIRMS, onTrial(1_500));
    loader = startLoader(root, node);
    await loader.waitForLine(/trial of 2\.0\.0 confirmed: slot b stays active/);
    await new Promise((r) => setTimeout(r, 2_500)); // past the deadline
    expect(readState(root)).toMatchObject({ active: 'b', trial: null, last: { result: 'updated', version: '2.0.0' } });
    expect(boots().map((b) => b.slot)).toEqual(['b']);
    expect(alive(boots()[0]!.pid)).toBe(true);
    expect(loader.lines.join('\n')).not.toMatch(/rolled back/);
  });

  it("times a trial on the device's clock: one begun by a laptop an hour ahead still gets its deadline", async () => {
    const laptopAhead = beginTrial({ ...installed(), versions: { a: '1.0.0', b: null } }, { slot: 'b', version: '2.0.0', deadlineMs: 30_000, by: 'flash', now: Date.now() + 3_600_000 });
    await setup(RUNS, CONFIRMS, laptopAhead);
    loader = startLoader(root, node);
    await loader.waitForLine(/trial of 2\.0\.0 confirmed: slot b stays active/);
    expect(readState(root)).toMatchObject({ active: 'b', trial: null, last: { result: 'updated', version: '2.0.0' } });
  });

  it('boots the new active slot at once when the firmware exits after an update switched slots', async () => {
    await setup(RUNS, CONFIRMS, installed());
    loader = startLoader(root, node);
    await expect.poll(() => boots().length).toBe(1);
    // What the OTA updater does: write slot b, begin its trial, and end the running firmware.
    setState(root, beginTrial(readState(root), { slot: 'b', version: '2.0.0', deadlineMs: 30_000, by: 'ota:test', now: Date.now() }));
    process.kill(boots()[0]!.pid, 'SIGTERM');
    await loader.waitForLine(/firmware exited \(code 0\) after the boot state changed: booting slot b 2\.0\.0/);
    await loader.waitForLine(/trial of 2\.0\.0 confirmed/);
    expect(loader.lines.join('\n')).not.toMatch(/restarting in/);
    expect(readState(root)).toMatchObject({ active: 'b', trial: null, last: { result: 'updated', by: 'ota:test' } });
  });
});

/**
 * The three example scenarios, each run by the real CLI in a short, bounded version (30
 * speakers, played 10-30 times faster with --speed: a few seconds each), asserting what each
 * promises: nothing lost or heard twice, the ramps heard at their rate, offline speakers
 * catching up after they come back, reconnect storms and faults survived, buttons answered.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-scenarios-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Check = { name: string; ok: boolean; detail: string };

async function play(name: string, speed: number): Promise<Record<string, any>> {
  const file = path.join(dir, `${name}.json`);
  const r = await runCli(
    [
      'fleet',
      ...['--scenario', `scenarios/${name}.yaml`, '--speed', String(speed)],
      ...['--devices', '30', '--workers', '1', '--report', file],
    ],
    { timeoutMs: 60_000, cwd: path.resolve(import.meta.dirname, '../..') },
  );
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toContain(`report written to ${file}`);
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>;
  const checks = report.scenario.checks as Check[];
  expect(checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.loads[0]).toMatchObject({ lost: 0, duplicates: 0, unknown: 0 });
  expect(report.loads[0].sent).toBeGreaterThan(50);
  return report;
}

describe('example scenarios (short versions)', () => {
  it('lunch-rush: the queue builds to 50/s and is heard at its rate; replay and summary presses are answered', async () => {
    const r = await play('lunch-rush', 30);
    const s = r.scenario;
    expect(s.phases.map((p: any) => p.name)).toEqual(['late-morning', 'queue-builds', 'peak', 'after-lunch']);
    expect(s.checks.map((c: Check) => c.name)).toContain('ramp "queue-builds" reached its rate');
    expect(s.buttons.pressed.replay).toBeGreaterThan(0);
    expect(s.buttons.answered).toBeGreaterThan(0);
  }, 60_000);

  it('flaky-4g-town: speakers out of coverage catch up, a cell restart and faulty links lose nothing', async () => {
    const r = await play('flaky-4g-town', 15);
    const [offline, storm, chaos] = r.scenario.groups;
    expect(offline).toMatchObject({ kind: 'offline', devices: 5 });
    expect(offline.whileAway.sent).toBeGreaterThan(0);
    expect(offline.whileAway.heard).toBe(offline.whileAway.sent);
    expect(offline.faults.reset + offline.faults.refuse).toBe(2);
    expect(storm).toMatchObject({ kind: 'storm', devices: 9, faults: { reset: 1 } });
    expect(storm.heard).toBe(storm.sent);
    expect(chaos.kind).toBe('chaos');
    expect(chaos.faults.reset + chaos.faults.drop + chaos.faults.blackhole).toBeGreaterThan(0);
    expect(chaos.heard).toBe(chaos.sent);
  }, 60_000);

  it('market-day-burst: the 2 → 80/s burst is heard at its rate through a storm of half the fleet', async () => {
    const r = await play('market-day-burst', 10);
    const s = r.scenario;
    expect(s.checks.find((c: Check) => c.name === 'ramp "bus-arrives" reached its rate').ok).toBe(true);
    expect(s.groups[0]).toMatchObject({ kind: 'storm', devices: 15, faults: { reset: 1 } });
    expect(s.groups[0].heard).toBe(s.groups[0].sent);
    expect(s.buttons.answered).toBeGreaterThan(0);
  }, 60_000);
});

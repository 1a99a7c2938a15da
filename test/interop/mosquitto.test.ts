/**
 * payspeaker against a broker that is not its own: a real Mosquitto (the Debian package) on a
 * free loopback port. A speaker process announces a payment sent by `payspeaker pay --direct`,
 * answers a repeat as a duplicate, and a small fleet hears every payment exactly once. Nothing
 * here may depend on aedes: MQTT 3.1.1, QoS 1, persistent sessions, retained state, last will.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type RunningMosquitto } from '../support/mosquitto.ts';
import { needs } from '../support/prerequisites.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { FLEET_DEFAULTS, runFleet } from '../../tools/fleet/run.ts';

let mosquitto: RunningMosquitto;
let device: CliProcess;
let wavDir: string;
const DEVICE = 'SPK-MOSQ-1';
// With its only suite skipped, vitest skips this file's hooks (which start Mosquitto) too.
const mosquittoBin = needs('mosquitto');

beforeAll(async () => {
  mosquitto = await startMosquitto();
  wavDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-mosquitto-'));
  device = new CliProcess([
    'device',
    '--insecure',
    '--id',
    DEVICE,
    '--broker',
    mosquitto.url,
    '--audio',
    `file:${wavDir}`,
    '--json',
  ]);
  await device.waitForEvent((e) => e.event === 'online');
});

afterAll(async () => {
  if (device) expect(await device.stop()).toBe(0);
  await mosquitto?.stop();
  if (wavDir) fs.rmSync(wavDir, { recursive: true, force: true });
});

describe.skipIf(mosquittoBin.missing)(`payspeaker on Mosquitto${mosquittoBin.note}`, () => {
  it('a speaker announces a payment from `pay --direct` and acks it; a repeat is a duplicate', async () => {
    const pay = (id: string) =>
      runCli([
        'pay',
        '--direct',
        '--insecure',
        '88.80',
        '--device',
        DEVICE,
        '--broker',
        mosquitto.url,
        '--id',
        id,
        '--json',
      ]);
    const first = await pay('PAY-MOSQ-1');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      id: 'PAY-MOSQ-1',
      device: DEVICE,
      status: 'played',
      text: '微信收款八十八点八元',
    });
    const event = await device.waitForEvent((e) => e.event === 'announced' && e.id === 'PAY-MOSQ-1');
    expect(decodeWav(fs.readFileSync(event.file as string)).samples.length).toBeGreaterThan(0);
    const wavs = () => fs.readdirSync(wavDir).filter((f) => f.endsWith('.wav')).length;
    const before = wavs();

    const again = await pay('PAY-MOSQ-1');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: 'PAY-MOSQ-1', status: 'duplicate' });
    await device.waitForEvent((e) => e.event === 'duplicate' && e.id === 'PAY-MOSQ-1');
    expect(wavs()).toBe(before);
  });

  it('a fleet of 100 signed speakers hears 150 payments exactly once', async () => {
    const loads = [{ rate: 50, durationMs: 3000, window: 1 }];
    const r = await runFleet({
      ...FLEET_DEFAULTS,
      devices: 100,
      loads,
      brokerUrl: mosquitto.url,
      prefix: 'MOSQ',
      drainMs: 15_000,
    });
    expect(r.run.broker).toBe(mosquitto.url);
    expect(r.loads[0]).toMatchObject({ sent: 150, heard: 150, lost: 0, duplicates: 0 });
    expect(r.devices).toMatchObject({ rejected: 0, stray: 0 });
    expect(r.memory.brokerPerConnectionKB).toBeNull(); // not ours to measure
  }, 90_000);
});

/**
 * The walking skeleton end to end: a real aedes broker on an ephemeral port, a real device
 * process, and `payspeaker pay` as a child process; the announcement is a real WAV file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { nonSilentMs } from '../../src/audio/pcm.ts';
import type { RunningBroker } from '../../broker/broker.ts';

let broker: RunningBroker;
let device: CliProcess;
let wavDir: string;
const DEVICE = 'SPK-E2E-1';

beforeAll(async () => {
  broker = await startTestBroker();
  wavDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-e2e-'));
  device = new CliProcess([
    'device',
    '--insecure',
    '--id',
    DEVICE,
    '--broker',
    broker.mqttUrl,
    '--audio',
    `file:${wavDir}`,
    '--json',
  ]);
  await device.waitForEvent((e) => e.event === 'online');
});

afterAll(async () => {
  expect(await device.stop()).toBe(0);
  await broker.close();
  fs.rmSync(wavDir, { recursive: true, force: true });
});

describe('payspeaker pay → device → ack', () => {
  it('announces 123.45 CNY over WeChat as real audio and the CLI exits 0 with the ack', async () => {
    const result = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '123.45',
      '--device',
      DEVICE,
      '--broker',
      broker.mqttUrl,
      '--id',
      'PAY-E2E-1',
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const ack = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(ack).toMatchObject({
      v: 1,
      id: 'PAY-E2E-1',
      device: DEVICE,
      status: 'played',
      text: '微信收款一百二十三点四五元',
    });

    const event = await device.waitForEvent((e) => e.event === 'announced' && e.id === 'PAY-E2E-1');
    expect(event).toMatchObject({
      text: '微信收款一百二十三点四五元',
      status: 'played',
      amount: 12345,
      currency: 'CNY',
    });
    const wav = decodeWav(fs.readFileSync(event.file as string));
    expect(path.dirname(event.file as string)).toBe(wavDir);
    expect(wav.sampleRate).toBe(22050);
    expect(nonSilentMs(wav)).toBeGreaterThanOrEqual(500);

    // The cloud side saw the same ack.
    expect(broker.tracker.device(DEVICE)?.recent.at(-1)).toMatchObject({ id: 'PAY-E2E-1', status: 'played' });
  });

  it('prints a readable line without --json, and reads refunds and other channels', async () => {
    const result = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '12.50',
      '--device',
      DEVICE,
      '--broker',
      broker.mqttUrl,
      '--channel',
      'alipay',
      '--refund',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^played on ${DEVICE}: .*退款十二点五元 \\(PAY-`));
  });

  it('acks a repeated payment id as duplicate and does not speak it again', async () => {
    const before = fs.readdirSync(wavDir).length;
    const again = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '123.45',
      '--device',
      DEVICE,
      '--broker',
      broker.mqttUrl,
      '--id',
      'PAY-E2E-1',
      '--json',
    ]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: 'PAY-E2E-1', status: 'duplicate' });
    expect(fs.readdirSync(wavDir).length).toBe(before);
  });

  it('presses buttons remotely with `payspeaker command`', async () => {
    // --insecure: this speaker has no backend key, so the command goes unsigned.
    const volume = await runCli([
      'command',
      '--insecure',
      'set-volume',
      '--value',
      '3',
      '--device',
      DEVICE,
      '--broker',
      broker.mqttUrl,
      '--json',
    ]);
    expect(volume.code, volume.stderr).toBe(0);
    expect(JSON.parse(volume.stdout)).toMatchObject({ ok: true, command: 'set-volume', volume: 3, device: DEVICE });
    const replay = await runCli(['command', '--insecure', 'replay', '--device', DEVICE, '--broker', broker.mqttUrl]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(new RegExp(`^${DEVICE} replay: said "重复播报，.*退款十二点五元"`));
    const bad = await runCli(['command', 'dance', '--device', DEVICE, '--broker', broker.mqttUrl]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"command" is "dance": it must be one of volume-up/);
  });

  it('exits 4 with a clear message when no device answers in time', async () => {
    const result = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '1',
      '--device',
      'SPK-NOBODY',
      '--broker',
      broker.mqttUrl,
      '--timeout',
      '1s',
    ]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/no ack from device SPK-NOBODY .* within 1 s/);
  });

  it('exits 5 when the broker cannot be reached', async () => {
    const result = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '1',
      '--device',
      DEVICE,
      '--broker',
      'mqtt://127.0.0.1:1',
      '--timeout',
      '2s',
    ]);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/cannot connect to the broker at mqtt:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });

  it.each([
    [['12.345'], /12\.345 has 3 decimals but CNY has 2/],
    [['abc'], /amount "abc" is not a plain decimal number/],
    [['--', '-5'], /amount -5 is negative: .*--refund/],
    [['5', '--currency', 'ABC'], /unknown currency "ABC"/],
    [['5', '--channel', 'venmo'], /argument 'venmo' is invalid.*wechat/],
    [['5', '--timeout', 'soon'], /--timeout "soon" is not a duration/],
    [['5', '--id', 'has space'], /--id "has space" is not a valid payment id/],
  ])('exits 2 on bad input %j without publishing', async (args, message) => {
    const result = await runCli([
      'pay',
      '--direct',
      '--insecure',
      '--device',
      DEVICE,
      '--broker',
      broker.mqttUrl,
      ...args,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});

/**
 * `payspeaker watch` as a user runs it, against a real secure broker with its notification API
 * and a real speaker process: a payment's notify (from the API's event stream) and its ack (from
 * MQTT, on the backend's own per-device filters), the speaker's state going offline, --json lines
 * a script can parse, Ctrl-C (exit 0) and the broker going away (exit 5).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { VERSION } from '../../src/version.ts';

const DEVICE = 'SPK-WATCH-1';
let dir: string;
let broker: RunningBroker;
let speaker: CliProcess;
let watch: CliProcess;
let watchJson: CliProcess;
const started: CliProcess[] = [];

async function startWatch(extra: string[]): Promise<CliProcess> {
  const p = new CliProcess([
    'watch',
    '--data',
    dir,
    '--broker',
    broker.mqttUrl,
    '--api',
    broker.service!.httpUrl!,
    ...extra,
  ]);
  started.push(p);
  // It says "watching …" once subscribed and the event stream is open: nothing after is missed.
  const deadline = Date.now() + 15_000;
  while (!p.stderr.includes('watching')) {
    if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`watch did not start: ${p.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(p.stderr).toContain(`/v1/events; Ctrl-C stops`);
  return p;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-watch-'));
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    wsPort: null,
    security: { mode: 'secure', dataDir: dir },
    service: { dataDir: dir, httpPort: 0 },
  });
  const config = path.join(dir, `${DEVICE}.json`);
  const r = await runCli(['provision', DEVICE, '--data', dir, '--broker', broker.mqttUrl, '--out', config]);
  expect(r.code, r.stderr).toBe(0);
  speaker = new CliProcess(['device', '--config', config, '--audio', `file:${dir}/wav`, '--json']);
  started.push(speaker);
  await speaker.waitForEvent((e) => e.event === 'online');
  watch = await startWatch([]);
  watchJson = await startWatch(['--device', DEVICE, '--json']);
}, 60_000);

afterAll(async () => {
  for (const p of started) await p.stop();
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('payspeaker watch', () => {
  it("shows the speaker's retained state, then a payment's notify, delivery and ack, one line each", async () => {
    await watch.waitForLine(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${DEVICE} state online v\\S+ zh-CN vol \\d+ \\(retained\\)$`),
    );
    const pay = await runCli(['pay', '12.34', '--device', DEVICE, '--data', dir, '--api', broker.service!.httpUrl!]);
    expect(pay.code, pay.stderr).toBe(0);
    const id = /\((PAY-[A-Z0-9-]+),/.exec(pay.stdout)![1]!;
    const notify = await watch.waitForLine((l) => l.includes(`← notify ${id}`));
    expect(notify).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${DEVICE} ← notify ${id} 12\\.34 CNY wechat$`));
    await watch.waitForLine((l) => l.endsWith(`${DEVICE} → delivered ${id} (stored on the speaker)`));
    const ack = await watch.waitForLine((l) => l.includes(`→ ack played ${id}`));
    expect(ack).toMatch(/"微信收款十二点三四元"$/);
    // The order a person reads: sent, stored, played.
    const at = (s: string) => watch.lines.findIndex((l) => l.includes(s));
    expect(at(`← notify ${id}`)).toBeLessThan(at(`→ ack played ${id}`));
  }, 30_000);

  it('shows command results and the speaker going offline', async () => {
    const cmd = await runCli([
      'command',
      'set-volume',
      '--value',
      '4',
      '--device',
      DEVICE,
      '--data',
      dir,
      '--broker',
      broker.mqttUrl,
    ]);
    expect(cmd.code, cmd.stderr).toBe(0);
    await watch.waitForLine((l) => l.endsWith(`${DEVICE} → cmd set-volume ok: volume 4/10`));
    await watch.waitForLine((l) => l.endsWith(`${DEVICE} state online v${VERSION} zh-CN vol 4`));
    expect(await speaker.stop()).toBe(0);
    await watch.waitForLine(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${DEVICE} state offline$`));
  }, 30_000);

  it('--json prints one parseable object per line with the message as the speaker sent it', async () => {
    await watchJson.waitForLine((l) => l.includes('"online":false'));
    const events = watchJson.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of events)
      expect(e).toMatchObject({ at: expect.any(Number), device: DEVICE, type: expect.any(String) });
    const types = events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['state', 'notify', 'delivered', 'ack', 'command-result']));
    expect(events.find((e) => e.type === 'notify')).toMatchObject({
      payment: { device: DEVICE, amount: 1234, currency: 'CNY', channel: 'wechat' },
      entry: { event: 'accepted' },
    });
    expect(events.find((e) => e.type === 'ack')).toMatchObject({ message: { status: 'played', device: DEVICE } });
    expect(events.at(-1)).toMatchObject({ type: 'state', message: { online: false } });
  });

  it('Ctrl-C stops it with exit 0', async () => {
    expect(await watchJson.stop('SIGINT')).toBe(0);
  });

  it('refuses a watch without the backend credentials in one line (exit 6)', async () => {
    const r = await runCli(['watch', '--insecure', '--broker', broker.mqttUrl, '--no-events']);
    expect(r.code).toBe(6);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/refused the connection .*point --data at the broker's data directory/);
  });

  it('says so and exits 5 when the broker goes away', async () => {
    await broker.close();
    expect(await watch.exited()).toBe(5);
    expect(watch.stderr).toMatch(/payspeaker: lost the broker at mqtt:\/\/127\.0\.0\.1:\d+ \(.*\): watch stopped/);
    expect(watch.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 20_000);
});

/**
 * `payspeaker payments` and what `pay` says when a payment is stuck, against a real secure
 * broker with its notification API and two real speaker processes: one that plays, and one whose
 * audio output fails for real (its WAV directory is replaced by a file after boot, so every
 * announcement fails to write and the speaker acks `audio-failed`, which the service retries).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { CliProcess, runCli } from '../support/cli.ts';

const PLAYS = 'SPK-PAYMENTS-1';
const MUTE = 'SPK-PAYMENTS-MUTE';
let dir: string;
let broker: RunningBroker;
let api: string;
const speakers: CliProcess[] = [];
const played: string[] = [];

async function startSpeaker(id: string, wavDir: string): Promise<CliProcess> {
  const config = path.join(dir, `${id}.json`);
  const r = await runCli(['provision', id, '--data', dir, '--broker', broker.mqttUrl, '--out', config]);
  expect(r.code, r.stderr).toBe(0);
  const speaker = new CliProcess(['device', '--config', config, '--audio', `file:${wavDir}`, '--json']);
  speakers.push(speaker);
  await speaker.waitForEvent((e) => e.event === 'online');
  return speaker;
}

const payments = (args: string[]) => runCli(['payments', ...args, '--data', dir, '--api', api]);
const pay = (args: string[]) => runCli(['pay', ...args, '--data', dir, '--api', api]);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-payments-'));
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    wsPort: null,
    security: { mode: 'secure', dataDir: dir },
    // A retry a minute away: the stuck payment stays as the speaker left it while the test reads it.
    service: { dataDir: dir, httpPort: 0, retry: { baseMs: 60_000, maxMs: 60_000 } },
  });
  api = broker.service!.httpUrl!;
  await startSpeaker(PLAYS, path.join(dir, 'wav-ok'));
  const muteDir = path.join(dir, 'wav-mute');
  await startSpeaker(MUTE, muteDir);
  // A file where the speaker writes its WAVs: its audio output now fails on every announcement.
  // The speaker may be writing a boot prompt there and re-create the folder: try until the file stays.
  for (let tries = 0; ; tries++) {
    fs.rmSync(muteDir, { recursive: true, force: true });
    try {
      fs.writeFileSync(muteDir, 'not a directory', { flag: 'wx' });
      break;
    } catch (err) {
      if (tries > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const amount of ['1.00', '2.50', '88']) {
    const r = await pay([amount, '--device', PLAYS, '--json']);
    expect(r.code, r.stderr).toBe(0);
    played.push((JSON.parse(r.stdout) as { id: string }).id);
  }
}, 60_000);

afterAll(async () => {
  for (const s of speakers) await s.stop();
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let stuck: string;

describe('pay when the speaker cannot play', () => {
  it('times out (exit 4) saying why: the audio-failed detail, and how to look it up later', async () => {
    const r = await pay(['5', '--device', MUTE, '--timeout', '2']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toBe('');
    const id = /no final ack for (PAY-\S+) within 2 s;/.exec(r.stderr)?.[1];
    expect(id, r.stderr).toBeDefined();
    stuck = id!;
    expect(r.stderr).toMatch(/it is (queued|delivered) and the service keeps retrying until \d{4}-/);
    expect(r.stderr).toMatch(
      new RegExp(
        `why: ${MUTE} acked rejected: audio-failed at \\d\\d:\\d\\d:\\d\\d\\.\\d{3}: could not play the announcement: EEXIST`,
      ),
    );
    expect(r.stderr).toContain(`look it up later: npx payspeaker payments ${stuck}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 20_000);

  it('refuses a negative amount typed as a flag in one line (exit 2)', async () => {
    const r = await runCli(['pay', '-5', '--device', PLAYS]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/amount -5 is negative: amounts are always positive; announce a refund with --refund/);
    expect(r.stderr).not.toContain('unknown option');
    // A real unknown option is still commander's.
    const typo = await runCli(['pay', '5', '--devcie', PLAYS]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown option '--devcie'/);
  }, 30_000);
});

describe('payspeaker payments', () => {
  it('lists the newest payments as a table, newest first', async () => {
    const r = await payments([]);
    expect(r.code, r.stderr).toBe(0);
    const [head, ...rows] = r.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^ID\s+DEVICE\s+AMOUNT\s+STATUS\s+CREATED\s+LAST$/);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(
      new RegExp(
        `^${stuck}\\s+${MUTE}\\s+5\\.00 CNY\\s+(queued|delivered)\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+(retrying: device could not play it|delivered)`,
      ),
    );
    expect(rows[1]).toMatch(new RegExp(`^${played[2]}\\s+${PLAYS}\\s+88\\.00 CNY\\s+played\\s+.*acked played$`));
  }, 30_000);

  it('filters by device, status and age, and limits', async () => {
    const byDevice = await payments(['--device', PLAYS, '--json']);
    expect(byDevice.code, byDevice.stderr).toBe(0);
    const ids = byDevice.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual([...played].reverse());

    const byStatus = await payments(['--status', 'played', '--json']);
    expect(
      byStatus.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(ids);
    const none = await payments(['--status', 'rejected', '--device', MUTE]);
    expect(none.code).toBe(0);
    expect(none.stderr).toBe(`no payments (${MUTE}, rejected) at ${api}\n`);

    const limited = await payments(['--limit', '2', '--json']);
    expect(limited.stdout.trim().split('\n')).toHaveLength(2);

    await new Promise((r) => setTimeout(r, 1100));
    const recent = await payments(['--since', '1s']);
    expect(recent.code).toBe(0);
    expect(recent.stdout).toBe('');
    expect(recent.stderr).toMatch(/^no payments \(since 1s ago\) at http/);

    const badStatus = await payments(['--status', 'lost']);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/Allowed choices are queued, delivered, played/);
  }, 30_000);

  it('shows one payment with its history and the last failure detail', async () => {
    const r = await payments([stuck]);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(new RegExp(`^${stuck}  5\\.00 CNY wechat → ${MUTE}\\n`));
    expect(out).toMatch(/\nstatus {3}(queued|delivered) after 1 attempt\n/);
    expect(out).toMatch(/\n {2}\d\d:\d\d:\d\d\.\d{3} {2}accepted {4}queued\n/);
    expect(out).toMatch(
      /\n {2}\d\d:\d\d:\d\d\.\d{3} {2}retrying {4}queued {5}device could not play it \(could not play the announcement: EEXIST/,
    );
    expect(out).toMatch(
      /\nlast failure: \d\d:\d\d:\d\d\.\d{3} device could not play it \(could not play the announcement: EEXIST.*\); retrying\n$/,
    );

    const ok = await payments([played[0]!, '--json']);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      id: played[0],
      status: 'played',
      text: '微信收款一元',
      history: [{ event: 'accepted' }, { event: 'delivered' }, { event: 'acked', status: 'played' }],
    });
  }, 30_000);

  it('an unknown id is one line and exit 2', async () => {
    const r = await payments(['PAY-NOT-THERE']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `payspeaker: no payment "PAY-NOT-THERE" at ${api}: list the newest with "payspeaker payments"\n`,
    );
  });

  it('without the backend token it is refused with what to do (exit 6)', async () => {
    const r = await runCli(['payments', '--insecure', '--api', api]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /the notification API refused us: .*drop --insecure and point --data at its data directory/,
    );
  });
});

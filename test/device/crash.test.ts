/**
 * A device process killed with SIGKILL in the middle of a stream of payments, three times,
 * and restarted on the same NVS: no payment is announced twice and none is lost. The broker
 * redelivers what was never PUBACKed; the device's inbox replays what was PUBACKed but never
 * announced; its dedupe answers the rest `duplicate`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess } from '../support/cli.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import type { RunningBroker } from '../../broker/broker.ts';

const DEVICE = 'SPK-CRASH';
const PAYMENTS = 60;
let broker: RunningBroker;
let link: DeviceLink;
let dir: string;

beforeAll(async () => {
  broker = await startTestBroker();
  link = await DeviceLink.open(broker.mqttUrl, DEVICE);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-crash-'));
});

afterAll(async () => {
  await link.close();
  await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const all: CliProcess[] = [];
function startDevice(): CliProcess {
  const args = [
    'device',
    '--insecure',
    '--id',
    DEVICE,
    '--broker',
    broker.mqttUrl,
    '--audio',
    `file:${dir}/wav`,
    '--data-dir',
    `${dir}/data`,
    '--json',
  ];
  const p = new CliProcess(args);
  all.push(p);
  return p;
}

/** Played WAVs per payment id (staged .partial files were never let out). */
function announcedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const file of fs.readdirSync(`${dir}/wav`)) {
    const id = /(PAY-SPK-CRASH-\d+-\d+)/.exec(file)?.[1];
    if (!id || !file.endsWith('.wav')) continue; // a .partial file was staged, never played
    try {
      decodeWav(fs.readFileSync(path.join(dir, 'wav', file)));
    } catch {
      continue;
    }
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('kill -9 mid-stream', () => {
  it('announces every payment exactly once across three crashes', { timeout: 90_000 }, async () => {
    let device = startDevice();
    await device.waitForEvent((e) => e.event === 'online');
    const ids: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < PAYMENTS; i++) {
        ids.push(await link.pay(100 + i));
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    for (const after of [12, 28, 44]) {
      await until(() => link.acks.length >= after, `${after} acks`, 30_000);
      device.child.kill('SIGKILL');
      await device.exited();
      device = startDevice();
      await device.waitForEvent((e) => e.event === 'online');
    }
    await sending;

    // What a backend does: retry every payment still without a final ack, with the same id.
    const final = (id: string) => link.acks.some((a) => a.id === id && a.status !== 'rejected');
    await until(() => ids.filter(final).length >= ids.length - 3, 'nearly all final acks', 30_000);
    for (const id of ids.filter((i) => !final(i))) await link.pay(100, { id });
    await until(() => ids.every(final), 'a final ack for every payment', 30_000);
    expect(await device.stop()).toBe(0);

    // A payment is announced on its own (a WAV named after it) or inside a burst summary
    // (after a restart the broker delivers the backlog at once); either way exactly once. A
    // summary counts if its WAV is there (what was heard, not what was said to be), once per
    // key: a device restarted mid-summary reports it again under the same key.
    const counts = announcedCounts();
    const summaries = new Map<string, string[]>();
    for (const device of all) {
      for (const line of device.lines) {
        const e = JSON.parse(line) as { event: string; ids?: string[]; key?: string; file?: string };
        if (e.event !== 'summarized') continue;
        expect(e.file && fs.existsSync(e.file), `the WAV of summary ${e.key}`).toBeTruthy();
        summaries.set(e.key!, e.ids!);
      }
    }
    for (const ids of summaries.values()) for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = ids.filter((id) => (counts.get(id) ?? 0) > 1);
    const lost = ids.filter((id) => !counts.has(id));
    const odd = [...twice, ...lost];
    if (odd.length) {
      console.log(fs.readdirSync(`${dir}/wav`).filter((f) => odd.some((t) => f.includes(t))));
      console.log(
        all
          .flatMap((d, i) =>
            d.lines.filter((l) => odd.some((t) => l.includes(t))).map((l) => `${i}: ${l.slice(0, 300)}`),
          )
          .join('\n'),
      );
      console.log(JSON.stringify(link.acks.filter((a) => odd.includes(a.id!))));
      console.log(
        all
          .map((d) =>
            d.stderr
              .split('\n')
              .filter((l) => odd.some((t) => l.includes(t)) || l.includes('summar'))
              .join('\n'),
          )
          .join('\n---\n'),
      );
    }
    expect({ twice, lost }).toEqual({ twice: [], lost: [] });
  });
});

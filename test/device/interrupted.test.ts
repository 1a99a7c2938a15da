/**
 * The window a kill -9 can hit between "announced" being written to NVS and the sound being
 * out, set up exactly instead of by luck: the device's NVS holds an announcement in flight (a
 * burst summary of three payments, marked done, its final acks owed) and the file output holds
 * its staged audio in each state a crash can leave it. The restarted speaker must ack a payment
 * as heard only if it was heard: it finishes or finds the sound, or it says the payments again.
 */
import fs from 'node:fs';
import { link as hardLink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { silence } from '../../src/audio/pcm.ts';
import { makeNotification, type Notification } from '../../src/protocol/index.ts';
import { silentLogger } from '../../src/log.ts';
import type { AudioOut } from '../../device/board.ts';
import { composeSpeaker } from '../../device/boot/compose.ts';
import { createFileSink, createMemorySink } from '../../device/drivers/audio/index.ts';
import { systemClock } from '../../device/drivers/clock.ts';
import { openFileNvs } from '../../device/drivers/nvs-file.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import { PaymentStore } from '../../device/stores/payments.ts';
import { Trust } from '../../device/trust.ts';
import type { RunningBroker } from '../../broker/broker.ts';

let broker: RunningBroker;
let base: string;
let run = 0;

beforeAll(async () => {
  broker = await startTestBroker();
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-interrupted-'));
});

afterAll(async () => {
  await broker.close();
  fs.rmSync(base, { recursive: true, force: true });
});

const KEY = 'summary-burst@test.1';
const TEXT = '连续收款三笔，共计三点零三元';

interface Setup {
  device: string;
  dir: string;
  nvsFile: string;
  wavDir: string;
  payments: Notification[];
  /** The staged audio's hidden file, as the file output left it (null: the output could not stage). */
  partial: string | null;
}

/** NVS as the firmware leaves it once the summary is marked done, just before its sound comes out. */
async function crashedMidSummary(stage: boolean): Promise<Setup> {
  const device = `SPK-INT-${++run}`;
  const dir = path.join(base, device);
  const nvsFile = path.join(dir, 'nvs.json');
  const wavDir = path.join(dir, 'wav');
  const nvs = await openFileNvs(nvsFile, { log: silentLogger });
  const store = new PaymentStore(nvs, systemClock, silentLogger);
  const payments = [1, 2, 3].map((i) =>
    makeNotification({
      id: `PAY-${device}-${i}`,
      device,
      amount: 100 + i,
      currency: 'CNY',
      channel: 'wechat',
      kind: 'payment',
      createdAt: Date.now(),
    }),
  );
  for (const n of payments) await store.accept(n);
  const staged = stage ? await createFileSink(wavDir).stage!(silence(300, 16_000), KEY) : null;
  const ids = payments.map((n) => n.id);
  await store.finish(
    payments,
    { status: 'summarized', text: TEXT },
    { key: KEY, token: staged?.token ?? null, ids, status: 'summarized', scope: 'burst', text: TEXT, items: payments },
  );
  await nvs.close();
  return { device, dir, nvsFile, wavDir, payments, partial: staged?.token ?? null };
}

/** Boots the firmware on that NVS, as the restarted process would, and waits for every final ack. */
async function restart(s: Setup, audio?: AudioOut) {
  const backend = await DeviceLink.open(broker.mqttUrl, s.device);
  const events: SpeakerEvent[] = [];
  const { speaker } = await composeSpeaker({
    id: s.device,
    broker: broker.mqttUrl,
    lang: 'zh-CN',
    board: { kind: 'headless', audio: audio ?? { kind: 'file', dir: s.wavDir }, nvsFile: s.nvsFile },
    voice: { kind: 'clips' },
    trust: new Trust({ publicKey: null }),
    settings: { prompts: false },
  });
  speaker.on('event', (e) => events.push(e));
  await speaker.start();
  const ids = s.payments.map((n) => n.id);
  await until(() => ids.every((id) => backend.ackFor(id)), 'a final ack for each payment', 20_000);
  await speaker.idle();
  await speaker.stop();
  await backend.close();
  const wavs = fs.existsSync(s.wavDir) ? fs.readdirSync(s.wavDir).filter((f) => f.endsWith('.wav')) : [];
  return { events, acks: ids.map((id) => backend.ackFor(id)!.status), wavs };
}

const summaries = (events: SpeakerEvent[]) => events.filter((e) => e.event === 'summarized');
const announced = (events: SpeakerEvent[]) =>
  events.filter((e): e is Extract<SpeakerEvent, { event: 'announced' }> => e.event === 'announced');

describe('an announcement a kill -9 interrupted', () => {
  it('staged but not out: the file output lets it out, reports the summary and acks it summarized', async () => {
    const s = await crashedMidSummary(true);
    const { events, acks, wavs } = await restart(s);
    expect(wavs).toHaveLength(1);
    expect(wavs[0]).toContain('summary-burst_test.1');
    expect(summaries(events)).toMatchObject([
      { key: KEY, ids: s.payments.map((n) => n.id), file: path.join(s.wavDir, wavs[0]!) },
    ]);
    expect(acks).toEqual(['summarized', 'summarized', 'summarized']);
  });

  it('out, but the tidy-up was lost: reports the summary once, writes no second file', async () => {
    const s = await crashedMidSummary(true);
    const published = s.partial!.replace(/\.[0-9a-f]{8}\.partial$/, '');
    await hardLink(s.partial!, published); // publish() got as far as its link: the sound is out
    const { events, acks, wavs } = await restart(s);
    expect(wavs).toEqual([path.basename(published)]);
    expect(summaries(events)).toMatchObject([{ key: KEY, file: published }]);
    expect(fs.existsSync(s.partial!)).toBe(false);
    expect(acks).toEqual(['summarized', 'summarized', 'summarized']);
  });

  it('out and tidied up: reports the summary it finds, writes no second file', async () => {
    const s = await crashedMidSummary(true);
    const published = s.partial!.replace(/\.[0-9a-f]{8}\.partial$/, '');
    fs.renameSync(s.partial!, published);
    const { events, acks, wavs } = await restart(s);
    expect(wavs).toEqual([path.basename(published)]);
    expect(summaries(events)).toMatchObject([{ key: KEY, file: published }]);
    expect(acks).toEqual(['summarized', 'summarized', 'summarized']);
  });

  it('the staged audio is gone: never acked as heard, each payment is announced again', async () => {
    const s = await crashedMidSummary(true);
    fs.rmSync(s.partial!);
    const { events, acks, wavs } = await restart(s);
    expect(summaries(events)).toEqual([]);
    expect(announced(events).map((e) => e.id)).toEqual(s.payments.map((n) => n.id));
    expect(wavs.map((w) => /PAY-SPK-INT-\d+-\d/.exec(w)?.[0]).sort()).toEqual(s.payments.map((n) => n.id));
    expect(acks).toEqual(['played', 'played', 'played']);
  });

  it('a loudspeaker (no staging, nothing to resume): the payments are announced again, not acked unheard', async () => {
    const s = await crashedMidSummary(false);
    const speaker = createMemorySink();
    const { events, acks } = await restart(s, speaker);
    expect(announced(events).map((e) => e.id)).toEqual(s.payments.map((n) => n.id));
    expect(speaker.labels).toEqual(s.payments.map((n) => n.id));
    expect(acks).toEqual(['played', 'played', 'played']);
  });
});

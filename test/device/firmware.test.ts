/**
 * The firmware's behaviour through its public surface — MQTT in; acks, results, state and audio
 * out — on the headless board against a real broker, with the real clip voice (a voice pack
 * recorded once for this file).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../support/broker.ts';
import { DeviceLink, until } from '../support/mqtt.ts';
import { createVoice, type Voice } from '../../src/voice/index.ts';
import { peak, volumeGain } from '../../src/audio/volume.ts';
import { createMemoryNvs } from '../../device/drivers/nvs-memory.ts';
import { openFileNvs } from '../../device/drivers/nvs-file.ts';
import { createHeadlessBoard, type HeadlessBoard } from '../../device/boards/headless.ts';
import { Speaker, type SpeakerOptions } from '../../device/speaker.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import type { RunningBroker } from '../../broker/broker.ts';
import type { Nvs } from '../../device/drivers/nvs.ts';

let broker: RunningBroker;
let voice: Voice;
let cacheDir: string;
const running: Speaker[] = [];
const links: DeviceLink[] = [];

beforeAll(async () => {
  broker = await startTestBroker();
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-fw-packs-'));
  voice = await createVoice('clips', { langs: ['zh-CN'], cacheDir });
}, 120_000);

afterAll(async () => {
  for (const s of running) await s.stop();
  for (const l of links) await l.close();
  await broker.close();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

/** A reboot reads the same storage through a new driver, as a real box does after power-up. */
function nvsFile(): string {
  return path.join(cacheDir, `nvs-${++n}.json`);
}

interface Booted {
  speaker: Speaker;
  board: HeadlessBoard;
  link: DeviceLink;
  events: SpeakerEvent[];
}

let n = 0;
async function boot(
  opts: {
    id?: string;
    nvs?: Nvs;
    settings?: SpeakerOptions['settings'];
    link?: DeviceLink;
    playbackSpeed?: number;
  } = {},
): Promise<Booted> {
  const id = opts.id ?? `SPK-FW-${++n}`;
  const link = opts.link ?? (await DeviceLink.open(broker.mqttUrl, id));
  if (!opts.link) links.push(link);
  const board = createHeadlessBoard({ nvs: opts.nvs ?? createMemoryNvs(), playbackSpeed: opts.playbackSpeed });
  const speaker = new Speaker({
    id,
    brokerUrl: broker.mqttUrl,
    lang: 'zh-CN',
    board,
    voice,
    settings: { prompts: false, ...opts.settings },
  });
  const events: SpeakerEvent[] = [];
  speaker.on('event', (e) => events.push(e));
  running.push(speaker);
  await speaker.start();
  return { speaker, board, link, events };
}

async function stop(speaker: Speaker): Promise<void> {
  running.splice(running.indexOf(speaker), 1);
  await speaker.stop();
}

describe('volume', () => {
  it('really scales the PCM: the same announcement at 7 and at 10 differs by the gain', async () => {
    const { board, link } = await boot();
    const id = await link.pay(12345);
    await until(() => link.ackFor(id)?.status === 'played', 'the first announcement');
    const atDefault = board.audio.played.at(-1)!;

    expect(await link.command('set-volume', { value: 10 })).toMatchObject({ ok: true, volume: 10, text: '音量最大' });
    const again = await link.pay(12345); // the same sentence (a replay would open with 重复播报)
    await until(() => link.ackFor(again)?.status === 'played', 'the second announcement');
    const atMax = board.audio.played.at(-1)!;

    expect(atMax.samples.length).toBe(atDefault.samples.length);
    expect(peak(atDefault) / peak(atMax)).toBeCloseTo(volumeGain(7), 2);
    expect(peak(atMax)).toBeGreaterThan(peak(atDefault));
  });

  it('persists across a reboot and says 音量最大 / 音量最小 at the ends, audibly', async () => {
    const file = nvsFile();
    const first = await boot({ nvs: await openFileNvs(file) });
    expect((await first.link.command('set-volume', { value: 9 })).volume).toBe(9);
    expect(await first.link.command('volume-up')).toMatchObject({ volume: 10, text: '音量最大' });
    expect(await first.link.command('volume-up')).toMatchObject({ volume: 10, text: '音量最大' });
    await first.link.command('set-volume', { value: 1 });
    expect(await first.link.command('volume-down')).toMatchObject({ volume: 0, text: '音量最小' });
    expect(peak(first.board.audio.played.at(-1)!)).toBeGreaterThan(0); // the mute prompt is still heard
    await stop(first.speaker);

    const again = await boot({ id: first.link.device, nvs: await openFileNvs(file), link: first.link });
    await until(() => first.link.states.at(-1)?.online === true, 'the online state after the reboot');
    expect(first.link.states.at(-1)).toMatchObject({ online: true, volume: 0 });
    expect((await again.link.command('volume-up')).volume).toBe(1);
  });
});

describe('replay and summary', () => {
  it('answer 暂无收款记录 before any payment, then replay the last one and total today', async () => {
    const { link, board } = await boot();
    expect(await link.command('replay')).toMatchObject({ ok: true, text: '暂无收款记录' });
    expect(await link.command('summary')).toMatchObject({ ok: true, text: '暂无收款记录' });
    const a = await link.pay(10_000);
    const b = await link.pay(2_345, { channel: 'alipay' });
    await until(() => link.acks.length === 2, 'two acks');
    expect(link.ackFor(a)?.status).toBe('played');
    expect(link.ackFor(b)?.status).toBe('played');
    expect((await link.command('replay')).text).toBe('重复播报，支付宝到账二十三点四五元');
    expect((await link.command('summary')).text).toBe('今日收款两笔，共计一百二十三点四五元');
    expect(board.audio.played.length).toBe(6);
  });

  it('buttons do what the commands do', async () => {
    const { board, events } = await boot();
    board.buttons.press('volume-down');
    await until(() => events.some((e) => e.event === 'volume'), 'the volume event');
    expect(events.find((e) => e.event === 'volume')).toMatchObject({ volume: 6 });
    board.buttons.press('summary');
    await until(() => events.some((e) => e.event === 'spoke' && e.what === 'summary'), 'the summary');
    board.buttons.press('power');
    await until(() => events.some((e) => e.event === 'spoke' && e.what === 'battery'), 'the battery level');
    expect(events.find((e) => e.event === 'spoke' && e.what === 'battery')).toMatchObject({ text: '电量百分之一百' });
  });

  it('answers a bad command with a specific error', async () => {
    const { link } = await boot();
    expect(await link.command('dance')).toMatchObject({
      ok: false,
      command: null,
      error: expect.stringMatching(/"command" is "dance": it must be one of volume-up/),
    });
    expect(await link.command('set-volume', { value: 11 })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/integer from 0 to 10/),
    });
  });
});

describe('late and bursty delivery', () => {
  it('summarizes what arrived while it was offline in one announcement, and acks those summarized', async () => {
    const settings = { staleAfterMs: 400, settleMs: 200 };
    const first = await boot({ settings });
    await stop(first.speaker); // clean stop: the broker keeps the session and queues for it
    const ids = [
      await first.link.pay(1_000),
      await first.link.pay(2_000),
      await first.link.pay(50, { currency: 'CNY' }),
    ];
    await new Promise((r) => setTimeout(r, 500)); // now older than staleAfterMs
    const again = await boot({ id: first.link.device, link: first.link, settings });
    await until(() => ids.every((id) => first.link.ackFor(id)), 'three acks');
    expect(ids.map((id) => first.link.ackFor(id)?.status)).toEqual(['summarized', 'summarized', 'summarized']);
    const summaries = again.events.filter((e) => e.event === 'summarized');
    expect(summaries).toEqual([
      expect.objectContaining({ scope: 'offline', count: 3, text: '离线期间收款三笔，共计三十点五元' }),
    ]);
    expect(again.board.audio.played).toHaveLength(1);
    expect((await again.link.command('summary')).text).toBe('今日收款三笔，共计三十点五元');
  });

  it('folds a burst beyond the queue depth into one summary, losing and repeating nothing', async () => {
    // Playback takes time on a real box; at 20x real time a queue still builds up here.
    const { link, events } = await boot({ settings: { burstDepth: 2 }, playbackSpeed: 20 });
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => link.pay((i + 1) * 100)));
    await until(() => ids.every((id) => link.ackFor(id)), 'ten acks');
    const played = ids.filter((id) => link.ackFor(id)?.status === 'played');
    const summarized = ids.filter((id) => link.ackFor(id)?.status === 'summarized');
    expect(played.length + summarized.length).toBe(10);
    expect(summarized.length).toBeGreaterThan(0);
    const bursts = events.filter((e): e is Extract<SpeakerEvent, { event: 'summarized' }> => e.event === 'summarized');
    expect(bursts.flatMap((b) => b.ids).sort()).toEqual([...summarized].sort());
    expect(bursts.every((b) => b.scope === 'burst' && b.text.startsWith('连续收款'))).toBe(true);
    expect(new Set(link.acks.map((a) => a.id)).size).toBe(link.acks.length);
    expect((await link.command('summary')).text).toBe('今日收款十笔，共计五十五元');
  });
});

describe('exactly once', () => {
  it('acks an id seen before a reboot as duplicate', async () => {
    const file = nvsFile();
    const first = await boot({ nvs: await openFileNvs(file) });
    const id = await first.link.pay(888);
    await until(() => first.link.ackFor(id)?.status === 'played', 'played');
    await stop(first.speaker);
    const again = await boot({ id: first.link.device, nvs: await openFileNvs(file), link: first.link });
    await again.link.pay(888, { id });
    await until(() => first.link.acks.filter((a) => a.id === id).length === 2, 'the second ack');
    expect(first.link.acks.filter((a) => a.id === id).map((a) => a.status)).toEqual(['played', 'duplicate']);
    expect(again.board.audio.played).toHaveLength(0);
  });
});

describe('a speaker far behind', () => {
  it('ignores a copy of a payment it still holds even when that payment is older than ids it has forgotten', async () => {
    // Remembers 2 ids; X is older than A but queued behind C. When C is marked done A is
    // forgotten, so X is then "older than anything remembered", yet it is in the inbox.
    const { link, events, board } = await boot({ settings: { rememberedIds: 2, burstDepth: 100 }, playbackSpeed: 4 });
    const now = Date.now();
    const id = (k: string) => `PAY-${link.device}-${k}`;
    const [a, b, c, x] = [id('A'), id('B'), id('C'), id('X')] as const;
    await link.pay(101, { id: a, createdAt: now - 1000 });
    await link.pay(102, { id: b, createdAt: now - 900 });
    await link.pay(103, { id: c, createdAt: now - 800 });
    await link.pay(104, { id: x, createdAt: now - 2000 });
    await until(() => events.some((e) => e.event === 'announced' && e.id === b), 'B announced');
    await new Promise((r) => setTimeout(r, 50)); // C is now marked done (A forgotten) and playing
    await link.pay(104, { id: x, createdAt: now - 2000 }); // the backend's retry of X
    await until(() => link.ackFor(x) !== undefined, 'an ack for X');
    await until(() => board.audio.played.length === 4, 'four announcements');
    expect(link.acks.filter((k) => k.id === x).map((k) => k.status)).toEqual(['played']);
    expect(events.filter((e) => e.event === 'rejected')).toEqual([]);
    // A replay of A itself is refused: it is forgotten, and as old as what was forgotten.
    await link.pay(101, { id: a, createdAt: now - 1000 });
    await until(() => link.acks.filter((k) => k.id === a).length === 2, 'the answer to the replay of A');
    expect(link.acks.filter((k) => k.id === a).map((k) => k.status)).toEqual(['played', 'rejected']);
  });
});

describe('presence and health', () => {
  it('publishes telemetry periodically', async () => {
    const { link } = await boot({ settings: { telemetryIntervalMs: 100 } });
    await until(() => link.telemetry.length >= 2, 'two telemetry reports');
    expect(link.telemetry[0]).toMatchObject({ v: 1, device: link.device, battery: 100, state: 'online', queue: 0 });
    expect(link.telemetry[0]!.signalDbm).toBeLessThan(0);
    expect(link.telemetry[1]!.uptimeMs).toBeGreaterThan(link.telemetry[0]!.uptimeMs as number);
  });

  it('says power-on, network connected and network lost, and its light follows the state', async () => {
    const own = await startTestBroker();
    const board = createHeadlessBoard();
    const speaker = new Speaker({
      id: 'SPK-PROMPTS',
      brokerUrl: own.mqttUrl,
      lang: 'zh-CN',
      board,
      voice,
      settings: { prompts: true },
    });
    const events: SpeakerEvent[] = [];
    speaker.on('event', (e) => events.push(e));
    await speaker.start();
    await speaker.idle();
    await own.close();
    await until(() => events.some((e) => e.event === 'spoke' && e.what === 'network-lost'), 'the network-lost prompt');
    const spoken = events.flatMap((e) => (e.event === 'spoke' ? [e.text] : []));
    expect(spoken).toEqual(['欢迎使用', '网络已连接', '网络已断开']);
    expect(board.led.history).toEqual(expect.arrayContaining(['booting', 'connecting', 'online', 'offline']));
    expect(speaker.state).not.toBe('online');
    await speaker.stop();
  });
});

/**
 * `npm run bench:ack`: where the time goes between a payment and its sound, on this machine.
 *   1. phrase        — building the sentence (src/speech)
 *   2. synthesis     — eSpeak NG (WebAssembly) turning it into PCM, warm
 *   3. round trip    — `pay`-style publish → embedded aedes → headless speaker → ack, end to end,
 *                      payments back to back after 20 uncounted warm-up payments; once with the
 *                      espeak voice (synthesis on the payment path), once with the clips voice
 *                      (the speaker's default: clips joined from a voice pack)
 * Usage: npm run bench:ack [-- --count 200] [-- --json]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker/broker.ts';
import { PaymentPublisher } from '../tools/publisher/publisher.ts';
import { connectOnce, endClient } from '../src/mqtt/connect.ts';
import { makeNotification } from '../src/protocol/index.ts';
import { phrase, type Language } from '../src/speech/index.ts';
import { createEspeakEngine } from '../src/audio/tts/espeak.ts';
import { createTtsVoice, createVoice, type Voice } from '../src/voice/index.ts';
import { Speaker } from '../device/speaker.ts';
import { createHeadlessBoard } from '../device/boards/headless.ts';
import { formatMs, summarize, type Summary } from './stats.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('Usage: npm run bench:ack [-- --count 200] [-- --json]\n');
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);

const amounts = Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % 9_999_999));
const sample = (i: number) => ({
  amount: amounts[i]!,
  currency: 'CNY',
  channel: 'wechat' as const,
  kind: 'payment' as const,
});

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const ROUND_TRIP_WARMUP = 20;
const results: Record<string, Summary> = {};
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

for (const lang of ['zh-CN', 'en-US'] as Language[]) {
  results[`phrase ${lang}`] = summarize(amounts.map((_, i) => time(() => phrase(sample(i), lang))));
}

const voice = createEspeakEngine();
for (const lang of ['zh-CN', 'en-US'] as Language[]) {
  progress(`synthesising ${count} ${lang} announcements`);
  await voice.synthesize(phrase(sample(0), lang), lang); // warm: load the voice once
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push(await timeAsync(() => voice.synthesize(phrase(sample(i), lang), lang)));
  results[`synthesis ${lang}`] = summarize(samples);
}

/**
 * Back-to-back payments to one speaker through its own broker connection, after uncounted
 * warm-up: the first send also subscribes to the acks (one more round trip), and the first few
 * payments of a fresh process are slow while V8 compiles the speaker's path.
 */
async function roundTrips(brokerUrl: string, id: string, voice: Voice): Promise<Summary> {
  const speaker = new Speaker({
    id,
    brokerUrl,
    lang: 'zh-CN',
    board: createHeadlessBoard(),
    voice,
    settings: { prompts: false },
  });
  await speaker.start();
  const client = await connectOnce(brokerUrl, { clientId: `bench-backend-${id}` });
  const publisher = new PaymentPublisher(client);
  const send = (i: number, tag: string) =>
    publisher.send(
      makeNotification({ id: `BENCH-${tag}${i}`, device: id, createdAt: Date.now(), ...sample(i % count) }),
    );
  for (let i = 0; i < ROUND_TRIP_WARMUP; i++) await send(i, 'WARM-');
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push(await timeAsync(() => send(i, '')));
  await endClient(client);
  await speaker.stop();
  return summarize(samples);
}

const broker = await startBroker({ port: 0, wsPort: null });
const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-bench-'));
try {
  progress(`sending ${count} payments through the embedded broker (espeak voice)`);
  results['pay → ack round trip'] = await roundTrips(broker.mqttUrl, 'SPK-BENCH', createTtsVoice(voice));
  // The speaker's default voice: clips joined from a voice pack (recorded here, not timed).
  progress('recording the zh-CN voice pack for the clips voice');
  const clips = await createVoice('clips', { langs: ['zh-CN'], cacheDir: packDir });
  progress(`sending ${count} payments through the embedded broker (clips voice)`);
  results['pay → ack round trip, clips'] = await roundTrips(broker.mqttUrl, 'SPK-BENCH-CLIPS', clips);
} finally {
  await broker.close();
  fs.rmSync(packDir, { recursive: true, force: true });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, count, results })}\n`);
} else {
  process.stdout.write(`payspeaker bench — Node ${process.version}, ${count} announcements each\n`);
  for (const [name, s] of Object.entries(results)) process.stdout.write(`${name.padEnd(28)} ${formatMs(s)}\n`);
}

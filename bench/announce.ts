/**
 * `npm run bench`: where the time goes between a payment and its sound, on this machine.
 *   1. phrase        — building the sentence (src/speech)
 *   2. synthesis     — eSpeak NG (WebAssembly) turning it into PCM, warm
 *   3. round trip    — `pay`-style publish → embedded aedes → headless speaker → ack, end to end
 * Usage: npm run bench [-- --count 200] [-- --json]
 */
import { parseArgs } from 'node:util';
import { startBroker } from '../broker/broker.ts';
import { PaymentPublisher } from '../broker/publisher.ts';
import { connectOnce, endClient } from '../src/mqtt/connect.ts';
import { makeNotification } from '../src/protocol/index.ts';
import { phrase, type Language } from '../src/speech/index.ts';
import { createEspeakEngine } from '../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../src/voice/index.ts';
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
  process.stdout.write('Usage: npm run bench [-- --count 200] [-- --json]\n');
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);

const amounts = Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % 9_999_999));
const sample = (i: number) => ({ amount: amounts[i]!, currency: 'CNY', channel: 'wechat' as const, kind: 'payment' as const });

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

progress(`sending ${count} payments through the embedded broker`);
const broker = await startBroker({ port: 0, wsPort: null });
const speaker = new Speaker({
  id: 'SPK-BENCH',
  brokerUrl: broker.mqttUrl,
  lang: 'zh-CN',
  board: createHeadlessBoard(),
  voice: createTtsVoice(voice),
  settings: { prompts: false },
});
await speaker.start();
const client = await connectOnce(broker.mqttUrl, { clientId: 'bench-backend' });
const publisher = new PaymentPublisher(client);
const roundTrips: number[] = [];
for (let i = 0; i < count; i++) {
  const n = makeNotification({ id: `BENCH-${i}`, device: 'SPK-BENCH', createdAt: Date.now(), ...sample(i) });
  roundTrips.push(await timeAsync(() => publisher.send(n)));
}
results['pay → ack round trip'] = summarize(roundTrips);
await endClient(client);
await speaker.stop();
await broker.close();

if (values.json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, count, results })}\n`);
} else {
  process.stdout.write(`payspeaker bench — Node ${process.version}, ${count} announcements each\n`);
  for (const [name, s] of Object.entries(results)) process.stdout.write(`${name.padEnd(24)} ${formatMs(s)}\n`);
}

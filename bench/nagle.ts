/**
 * `npx tsx bench/nagle.ts`: what turning Nagle's algorithm off (TCP_NODELAY) is worth on the
 * pay → ack round trip. Same round trip as `npm run bench` (embedded aedes via startBroker, a
 * headless Speaker with the eSpeak voice, a PaymentPublisher on a connectOnce client), run in
 * several modes that differ only in which sockets get `setNoDelay(true)`:
 *
 *   shipped       every socket, as the project ships it (broker/listeners.ts on accepted
 *                 sockets, src/mqtt/no-delay.ts on the backend's and the speaker's clients)
 *   nagle-on      no socket: MQTT.js's and Node's default (Nagle on everywhere)
 *   broker-only   only the broker's accepted sockets (clients as MQTT.js leaves them)
 *   clients-only  only the two clients (a broker that, like plain aedes behind
 *                 `net.createServer(aedes.handle)`, leaves Nagle on)
 *
 * The project's code always asks for no-delay, and the Speaker's MQTT client is private, so the
 * "off" sides are made by swapping net.Socket.prototype.setNoDelay, while a mode's broker and
 * clients connect, for a version that ignores `true` on the sides being tested. (setNoDelay is
 * only called on connect, so the round trips themselves run on the real prototype.) Calls
 * honoured and ignored are counted and printed, so a run shows the switch really happened.
 *
 * Each mode has its own broker, speaker and backend, and --warmup payments that are not counted.
 * By default payments go back to back, like `npm run bench`, one mode after another; --gap MS
 * waits MS before every payment, like a counter where payments come seconds apart, with the
 * modes interleaved payment by payment. The gap matters: Nagle only holds a small write while
 * an earlier one is unacknowledged, and the peer's delayed ACK is what it waits for.
 *
 * Usage: npx tsx bench/nagle.ts [--count 200] [--warmup 20] [--gap 0] [--modes shipped,...]
 *                               [--json [--samples]]   (--samples: every round trip, in order)
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker/broker.ts';
import { PaymentPublisher } from '../tools/publisher/publisher.ts';
import { connectOnce, endClient } from '../src/mqtt/connect.ts';
import { makeNotification } from '../src/protocol/index.ts';
import { phrase } from '../src/speech/index.ts';
import { createEspeakEngine } from '../src/audio/tts/espeak.ts';
import { createTtsVoice } from '../src/voice/index.ts';
import { Speaker } from '../device/speaker.ts';
import { createHeadlessBoard } from '../device/boards/headless.ts';
import { formatMs, summarize, type Summary } from './stats.ts';

const MODES = {
  shipped: { broker: true, clients: true },
  'nagle-on': { broker: false, clients: false },
  'broker-only': { broker: true, clients: false },
  'clients-only': { broker: false, clients: true },
} as const;
type Mode = keyof typeof MODES;

const USAGE = `Usage: npx tsx bench/nagle.ts [--count 200] [--warmup 20] [--gap MS] [--modes ${Object.keys(MODES).join(',')}] [--json [--samples]]`;
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    modes: { type: 'string', default: Object.keys(MODES).join(',') },
    json: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '20' },
    gap: { type: 'string', default: '0' },
    samples: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);
const warmup = Number(values.warmup);
if (!Number.isInteger(warmup) || warmup < 1)
  throw new Error(`--warmup must be a positive integer, got ${values.warmup}`);
const gap = Number(values.gap);
if (!Number.isFinite(gap) || gap < 0) throw new Error(`--gap must be a number of milliseconds >= 0, got ${values.gap}`);
const modes = values.modes.split(',').map((m) => m.trim());
for (const m of modes)
  if (!(m in MODES)) throw new Error(`--modes: "${m}" is not a mode; use ${Object.keys(MODES).join(', ')}`);

// The same amounts as bench/announce.ts, so the synthesis part of the round trip matches.
const amounts = Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % 9_999_999));
const sample = (i: number) => ({
  amount: amounts[i]!,
  currency: 'CNY',
  channel: 'wechat' as const,
  kind: 'payment' as const,
});

const realSetNoDelay = net.Socket.prototype.setNoDelay;
interface Tally {
  honoured: number;
  ignored: number;
}

/** Lets `setNoDelay(true)` through only on the sides that `mode` keeps no-delay on. */
function applyMode(mode: Mode, tally: Tally): void {
  const keep = MODES[mode];
  net.Socket.prototype.setNoDelay = function (this: net.Socket & { _server?: unknown }, enable?: boolean) {
    const brokerSide = this._server != null; // sockets a net.Server accepted
    const allowed = enable === false || (brokerSide ? keep.broker : keep.clients);
    if (!allowed) {
      tally.ignored += 1;
      return this;
    }
    if (enable !== false) tally.honoured += 1;
    return realSetNoDelay.call(this, enable);
  };
}

function restore(): void {
  net.Socket.prototype.setNoDelay = realSetNoDelay;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const engine = createEspeakEngine();
await engine.synthesize(phrase(sample(0), 'zh-CN'), 'zh-CN'); // load the wasm and the voice once
const voice = createTtsVoice(engine);

interface Setup {
  mode: Mode;
  tally: Tally;
  publisher: PaymentPublisher;
  samples: number[];
  close(): Promise<void>;
}

/** Broker, speaker and backend for one mode. setNoDelay is only called while connecting, so the
 * patch is needed during setup only; the measured round trips all run on the real prototype. */
async function setUp(mode: Mode): Promise<Setup> {
  const tally: Tally = { honoured: 0, ignored: 0 };
  applyMode(mode, tally);
  try {
    const broker = await startBroker({ port: 0, wsPort: null });
    const speaker = new Speaker({
      id: 'SPK-NAGLE',
      brokerUrl: broker.mqttUrl,
      lang: 'zh-CN',
      board: createHeadlessBoard(),
      voice,
      settings: { prompts: false },
    });
    await speaker.start();
    const client = await connectOnce(broker.mqttUrl, { clientId: `bench-nagle-${mode}` });
    const publisher = new PaymentPublisher(client);
    return {
      mode,
      tally,
      publisher,
      samples: [],
      async close() {
        await endClient(client);
        await speaker.stop();
        await broker.close();
      },
    };
  } finally {
    restore();
  }
}

progress(`setting up ${modes.join(', ')}`);
const setups: Setup[] = [];
for (const mode of modes as Mode[]) setups.push(await setUp(mode));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const send = (s: Setup, i: number, tag: string) =>
  s.publisher.send(
    makeNotification({
      id: `NAGLE-${s.mode}-${tag}${i}`,
      device: 'SPK-NAGLE',
      createdAt: Date.now(),
      ...sample(i % count),
    }),
  );
// Warm-up outside the sample: the first payments of a fresh process are slow while V8 compiles
// the speaker's path (tens of ms, up to ~130 ms, seen on the first 5 or so).
const warmUp = async (s: Setup) => {
  for (let i = 0; i < warmup; i++) await send(s, i, 'WARM-');
};
if (gap === 0) {
  // Back to back: each mode's payments follow one another on its connections, so modes take turns.
  for (const s of setups) {
    await warmUp(s);
    progress(`${s.mode}: ${count} payments back to back`);
    for (let i = 0; i < count; i++) s.samples.push(await timeAsync(() => send(s, i, '')));
  }
} else {
  // Spaced: every connection is idle for at least the gap before each payment whichever order
  // the modes go in, so they are interleaved and the machine's noisy moments fall on all alike.
  for (const s of setups) await warmUp(s);
  progress(`${modes.join(', ')}: ${count} payments each, ${gap} ms apart, interleaved`);
  for (let i = 0; i < count; i++) {
    for (const s of setups) {
      await sleep(gap);
      s.samples.push(await timeAsync(() => send(s, i, '')));
    }
  }
}
for (const s of setups) await s.close();
const results: Record<string, Summary & Tally & { samples?: number[] }> = {};
for (const s of setups)
  results[s.mode] = { ...summarize(s.samples), ...s.tally, ...(values.samples ? { samples: s.samples } : {}) };

if (values.json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, count, warmup, gapMs: gap, results })}\n`);
} else {
  process.stdout.write(
    `payspeaker Nagle bench — Node ${process.version}, ${count} pay → ack round trips per mode, ${gap ? `${gap} ms apart` : 'back to back'}\n`,
  );
  for (const [name, r] of Object.entries(results)) {
    process.stdout.write(
      `${name.padEnd(13)} ${formatMs(r)}  mean ${r.mean.toFixed(2)} ms  setNoDelay(true) honoured ${r.honoured}, ignored ${r.ignored}\n`,
    );
  }
}

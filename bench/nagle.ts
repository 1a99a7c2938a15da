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
 * "off" sides are made by swapping net.Socket.prototype.setNoDelay for a version that ignores
 * `true` on the sockets of the sides being tested, for the duration of that mode only. Calls
 * honoured and ignored are counted and printed, so a run shows the switch really happened.
 * Usage: npx tsx bench/nagle.ts [--count 200] [--modes shipped,nagle-on,...] [--json]
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { startBroker } from '../broker/broker.ts';
import { PaymentPublisher } from '../broker/publisher.ts';
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

const USAGE = `Usage: npx tsx bench/nagle.ts [--count 200] [--modes ${Object.keys(MODES).join(',')}] [--json]`;
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    modes: { type: 'string', default: Object.keys(MODES).join(',') },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);
const modes = values.modes.split(',').map((m) => m.trim());
for (const m of modes) if (!(m in MODES)) throw new Error(`--modes: "${m}" is not a mode; use ${Object.keys(MODES).join(', ')}`);

// The same amounts as bench/announce.ts, so the synthesis part of the round trip matches.
const amounts = Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % 9_999_999));
const sample = (i: number) => ({ amount: amounts[i]!, currency: 'CNY', channel: 'wechat' as const, kind: 'payment' as const });

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

const results: Record<string, Summary & Tally> = {};
for (const mode of modes as Mode[]) {
  progress(`${mode}: sending ${count} payments`);
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
    // One payment outside the sample: it also subscribes to the acks (one more round trip).
    await publisher.send(makeNotification({ id: `WARM-${mode}`, device: 'SPK-NAGLE', createdAt: Date.now(), ...sample(0) }));
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = makeNotification({ id: `NAGLE-${mode}-${i}`, device: 'SPK-NAGLE', createdAt: Date.now(), ...sample(i) });
      samples.push(await timeAsync(() => publisher.send(n)));
    }
    await endClient(client);
    await speaker.stop();
    await broker.close();
    results[mode] = { ...summarize(samples), ...tally };
  } finally {
    restore();
  }
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, count, results })}\n`);
} else {
  process.stdout.write(`payspeaker Nagle bench — Node ${process.version}, ${count} pay → ack round trips per mode\n`);
  for (const [name, r] of Object.entries(results)) {
    process.stdout.write(`${name.padEnd(13)} ${formatMs(r)}  mean ${r.mean.toFixed(2)} ms  setNoDelay(true) honoured ${r.honoured}, ignored ${r.ignored}\n`);
  }
}

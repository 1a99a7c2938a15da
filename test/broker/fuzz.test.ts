/**
 * Protocol fuzzing of the broker's MQTT front door (issue 12): a real secure broker with the
 * `payspeaker broker` limits, on an ephemeral loopback port, fed arbitrary bytes, mutated
 * CONNECTs, and — after a real CONNECT with real credentials — mutated PUBLISH, SUBSCRIBE,
 * UNSUBSCRIBE, PINGREQ and PUBACK packets, each case on a fresh TCP socket with a deadline.
 *
 * Throughout and at the end: the broker keeps listening, a legitimate device (MQTT.js, its own
 * persistent session) keeps receiving what the backend publishes to it, every fuzz connection
 * is gone again, and nothing went wrong that nobody handled — no 'uncaughtException' or
 * 'unhandledRejection' in the process, no error-level log line and no logged stack. Warnings
 * about bad input are the broker doing its job, and are only counted.
 *
 * Replay: the seed is printed; FUZZ_SEED=<seed> (and FUZZ_RUNS=<n> for a longer hunt) rerun the
 * same cases, and fast-check's failure message carries the seed and path of the shrunk case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { topics } from '../../src/protocol/index.ts';
import { captureLog, LEVEL, type LogLine } from '../fixtures/capture-log.ts';
import { until } from '../support/mqtt.ts';
import {
  buildConnect,
  lengthEncoding,
  encodeLength,
  mutatedConnect,
  mutate,
  mutation,
  probe,
  split,
  validClientPacket,
  validConnect,
  type ProbeResult,
} from '../support/fuzz-mqtt.ts';
import { backendCredentials, connectBackend, connected, end, provision, tempDataDir } from './helpers.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_261_205;
/** Runs per property; the defaults keep the file well under a minute on a busy 2-core machine. */
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : null;
const runs = (n: number) => RUNS ?? n;

const FUZZ_DEVICE = 'SPK-FUZZ-1';
const LEGIT_DEVICE = 'SPK-FUZZ-LEGIT';
/** A probe's wait after its last write, and its hard end. */
const LINGER_MS = 15;
const DEADLINE_MS = 1500;
const CONNECT_LINGER_MS = 100;

const fatal: string[] = [];
const onUncaught = (err: unknown) => fatal.push(`uncaughtException: ${(err as Error)?.stack ?? String(err)}`);
const onUnhandled = (err: unknown) => fatal.push(`unhandledRejection: ${(err as Error)?.stack ?? String(err)}`);

let broker: RunningBroker;
let port: number;
let lines: LogLine[];
let legit: MqttClient;
let backend: MqttClient;
let credentials: { device: { username: string; password: string }; backend: { username: string; password: string } };
const heard: string[] = [];
const outcomes = { cases: 0, answered: 0, closedByBroker: 0, connack: new Map<number, number>() };

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  console.log(`broker fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  const dataDir = tempDataDir();
  const captured = captureLog();
  lines = captured.lines;
  // As `payspeaker broker` runs it (secure, default limits), but without the per-address
  // connection rate: every case comes from 127.0.0.1, and the rate limit has its own tests.
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    wsPort: null,
    log: captured.log,
    security: { mode: 'secure', dataDir },
    limits: { connectRate: null },
  });
  port = Number(new URL(broker.mqttUrl).port);
  const device = provision(dataDir, FUZZ_DEVICE);
  const legitCreds = provision(dataDir, LEGIT_DEVICE);
  credentials = { device, backend: backendCredentials(dataDir) };
  legit = await connected(broker.mqttUrl, LEGIT_DEVICE, legitCreds.password);
  legit.on('message', (_topic, payload) => heard.push(payload.toString()));
  await legit.subscribeAsync(topics.notify(LEGIT_DEVICE), { qos: 1 });
  backend = await connectBackend(broker.mqttUrl, dataDir, 'fuzz-test-backend');
});

afterAll(async () => {
  await end(legit);
  await end(backend);
  await broker?.close();
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUnhandled);
  const connacks = [...outcomes.connack].map(([code, n]) => `${code}:${n}`).join(' ');
  const warnings = new Map<string, number>();
  for (const l of lines.filter((l) => l.level === LEVEL.warn)) {
    // "refused subscribe by device SPK-FUZZ-1 to <topic>: …" → "refused subscribe by device"
    const key = l.msg
      .split(/[:(]/)[0]!
      .replace(/ to .*| from .*/, '')
      .replace(/SPK-FUZZ-\w+/, 'ID')
      .replace(/"[^"]*"/, '"…"')
      .replace(/\d+/g, 'N')
      .trim();
    warnings.set(key, (warnings.get(key) ?? 0) + 1);
  }
  console.log(
    `broker fuzz: ${outcomes.cases} cases, ${outcomes.answered} answered, ${outcomes.closedByBroker} closed by the broker, CONNACK codes ${connacks || 'none'}; warnings logged: ${[
      ...warnings,
    ]
      .map(([m, n]) => `${n}× ${m}`)
      .join(' | ')}`,
  );
});

/** Errors nobody handled, error-level log lines, and logged stacks: each one a finding. */
function problems(): string[] {
  const logged = lines
    .filter(
      (l) =>
        l.level >= LEVEL.error ||
        (typeof l.err === 'object' && l.err !== null && 'stack' in l.err) ||
        /uncaught|unhandled/i.test(l.msg),
    )
    .map((l) => JSON.stringify(l).slice(0, 2000));
  return [...fatal, ...logged];
}

function note(r: ProbeResult, withHandshake: boolean): void {
  outcomes.cases++;
  if (r.received.length > 0) outcomes.answered++;
  if (r.closedByBroker) outcomes.closedByBroker++;
  // Without a handshake of ours, a CONNACK (0x20, length 2, flags, code) answers the fuzzed CONNECT.
  if (!withHandshake && r.received[0] === 0x20 && r.received.length >= 4) {
    const code = r.received[3]!;
    outcomes.connack.set(code, (outcomes.connack.get(code) ?? 0) + 1);
  }
}

/** The broker still listens, and the legitimate device still gets what the backend sends it. */
async function assertServing(label: string): Promise<void> {
  expect(problems()).toEqual([]);
  const marker = `{"v":1,"fuzz":"${label}-${Date.now()}"}`;
  await backend.publishAsync(topics.notify(LEGIT_DEVICE), marker, { qos: 1 });
  await until(() => heard.includes(marker), `the legitimate device to receive a publish after ${label}`, 10_000);
  // A fresh connection with real credentials is still accepted.
  const r = await probe(port, {
    chunks: [validConnect(`payspeaker-${FUZZ_DEVICE}`, credentials.device.username, credentials.device.password)],
    lingerMs: 2000,
    deadlineMs: 5000,
    untilBytes: 4,
  }).catch((err: Error) => ({ received: Buffer.alloc(0), closedByBroker: false, connectError: err.message }));
  expect(r.connectError).toBeNull();
  expect([...r.received.subarray(0, 4)]).toEqual([0x20, 0x02, 0x00, 0x00]);
}

/** Every fuzz connection is gone again: only the legitimate device and the backend remain. */
async function assertNoLeftovers(): Promise<void> {
  await until(() => broker.aedes.connectedClients === 2, 'the fuzz connections to be gone', 10_000).catch(() => {
    throw new Error(`${broker.aedes.connectedClients} clients still connected, expected 2 (the legitimate ones)`);
  });
}

const check = (r: ProbeResult) => {
  // ECONNREFUSED: the broker stopped listening.
  if (r.connectError) throw new Error(`the broker refused a TCP connection: ${r.connectError}`);
  const found = problems();
  if (found.length > 0) throw new Error(`the broker failed:\n${found.join('\n')}`);
};

describe(
  'broker protocol fuzzing (fast-check, real broker, fresh socket per case)',
  { timeout: 60_000 + (RUNS ?? 0) * 25 },
  () => {
    it('survives arbitrary bytes, and arbitrary bytes behind a plausible fixed header', async () => {
      const raw = fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        // A packet type (any of the 16, any flags) and a length that may lie, then junk.
        fc
          .tuple(fc.integer({ min: 0, max: 255 }), lengthEncoding, fc.uint8Array({ maxLength: 200 }))
          .map(([header, enc, body]) => new Uint8Array([header, ...encodeLength(body.length, enc), ...body])),
      );
      await fc.assert(
        fc.asyncProperty(raw, fc.array(fc.nat(), { maxLength: 3 }), async (bytes, cuts) => {
          const r = await probe(port, { chunks: split(bytes, cuts), lingerMs: LINGER_MS, deadlineMs: DEADLINE_MS });
          note(r, false);
          check(r);
        }),
        { seed: SEED, numRuns: runs(1000) },
      );
      await assertServing('raw bytes');
    });

    it('survives CONNECTs with mutated fields and lengths', async () => {
      await fc.assert(
        fc.asyncProperty(mutatedConnect, fc.array(fc.nat(), { maxLength: 3 }), async (fields, cuts) => {
          const r = await probe(port, {
            chunks: split(buildConnect(fields, credentials.device.password), cuts),
            // Long enough for the secret's hash and the CONNACK; a refused CONNECT ends sooner, on close.
            lingerMs: CONNECT_LINGER_MS,
            deadlineMs: DEADLINE_MS,
          });
          note(r, false);
          check(r);
        }),
        { seed: SEED + 1, numRuns: runs(800) },
      );
      await assertServing('mutated CONNECTs');
    });

    it('survives mutated packets after a valid CONNECT with real credentials', async () => {
      const as = fc.constantFrom('device' as const, 'backend' as const);
      const packets = fc.array(
        fc.tuple(validClientPacket, fc.oneof(fc.constant([]), fc.array(mutation, { minLength: 1, maxLength: 3 }))),
        { minLength: 1, maxLength: 5 },
      );
      await fc.assert(
        fc.asyncProperty(as, packets, fc.array(fc.nat(), { maxLength: 3 }), async (who, list, cuts) => {
          const c = credentials[who];
          const clientId = who === 'device' ? `payspeaker-${FUZZ_DEVICE}` : 'fuzz-backend';
          const bytes = Buffer.concat(list.map(([packet, edits]) => mutate(packet, edits)));
          const r = await probe(port, {
            handshake: validConnect(clientId, c.username, c.password),
            handshakeBytes: 4,
            chunks: split(bytes, cuts),
            lingerMs: LINGER_MS,
            deadlineMs: DEADLINE_MS,
          });
          note(r, true);
          check(r);
          // The handshake itself must have been accepted, else the case fuzzed nothing after it.
          if (!r.received.subarray(0, 4).equals(Buffer.from([0x20, 0x02, 0x00, 0x00])))
            throw new Error(`the valid CONNECT was not accepted: ${r.received.subarray(0, 8).toString('hex')}`);
        }),
        { seed: SEED + 2, numRuns: runs(1000) },
      );
      await assertServing('mutated packets after CONNECT');
    });

    it('is still serving at the end: no leftover connections, no unhandled error, no error log', async () => {
      await assertNoLeftovers();
      await assertServing('the whole fuzz run');
      await assertNoLeftovers();
    });
  },
);

/**
 * The broker keeps serving a provisioned speaker while another process floods it (issue 4,
 * item 6): thousands of bad CONNECTs (garbage, wrong credentials, half-open sockets) and
 * oversized publishes, all from 127.0.0.1, bounded in count and time. Meanwhile the backend
 * publishes signed payments and each one is acked `played` by a real Speaker.
 *
 * The legitimate clients share the flood's address, so its per-address rate limit applies to
 * them too: they connect before the flood starts and stay connected (the limit counts new
 * connections only, never packets on an open one). A speaker that lost its connection during
 * a flood from its own address would be refused until the flood let up — behind a shared NAT
 * that is the trade-off the rate limit makes (docs: broker/limits.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Limits } from '../../broker/limits.ts';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { provisionDevice, readBackendCredentials } from '../../broker/credentials.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { Speaker } from '../../device/speaker.ts';
import { Trust } from '../../device/trust.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import { createTtsVoice } from '../../src/voice/index.ts';
import { createEspeakEngine } from '../../src/audio/tts/index.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { makeNotification, parseAck, signNotification, topics, type Ack } from '../../src/protocol/index.ts';
import { until } from '../support/mqtt.ts';
import type { Logger } from '../../src/log.ts';
import type { MqttClient } from 'mqtt';
import type { KeyObject } from 'node:crypto';

const DEVICE = 'SPK-FLOOD';
const FLOOD = path.join(import.meta.dirname, '../fixtures/flood.ts');

const variants: Array<[string, Partial<Limits>]> = [
  ['default limits', {}],
  // Defence in depth: every attempt reaches the packet-size cap and authentication.
  ['no connection-rate limit', { connectRate: null }],
];

describe.each(variants)('%s', (name, limits) => {
  let dir: string;
  let broker: RunningBroker;
  let speaker: Speaker;
  let backend: MqttClient;
  let privateKey: KeyObject;
  const acks: Ack[] = [];
  const warnings: string[] = [];

  const log = {
    debug() {},
    info() {},
    warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? String(_o)),
    error: (_o: unknown, msg?: string) => void warnings.push(msg ?? String(_o)),
  } as unknown as Logger;
  (log as unknown as { child: () => Logger }).child = () => log;

  beforeAll(async () => {
    acks.length = 0;
    warnings.length = 0;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-flood-'));
    broker = await startBroker({ port: 0, wsPort: null, security: { mode: 'secure', dataDir: dir }, limits, log });
    const device = provisionDevice(broker.registry!, DEVICE);
    const keys = loadOrCreateBackendKeys(brokerDir(dir));
    privateKey = keys.privateKey;
    speaker = new Speaker({
      id: DEVICE,
      brokerUrl: broker.mqttUrl,
      lang: 'en-US',
      board: createHeadlessBoard(),
      voice: createTtsVoice(createEspeakEngine()),
      settings: { prompts: false },
      mqtt: { username: device.username, password: device.password },
      trust: new Trust({ publicKey: keys.publicKey }),
    });
    const online = new Promise<void>((resolve) => speaker.on('event', (e) => e.event === 'online' && resolve()));
    await speaker.start();
    await online;
    backend = await connectOnce(broker.mqttUrl, { clientId: 'backend-flood-test', ...readBackendCredentials(dir)! });
    backend.on('message', (_t, p) => acks.push(parseAck(p)));
    await backend.subscribeAsync(topics.ack(DEVICE), { qos: 1 });
  }, 60_000);

  afterAll(async () => {
    if (backend) await endClient(backend);
    await speaker?.stop();
    await broker?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  async function pay(): Promise<Ack> {
    const id = `PAY-FLOOD-${++seq}`;
    const n = signNotification(
      makeNotification({
        id,
        device: DEVICE,
        amount: 100 + seq,
        currency: 'USD',
        channel: 'generic',
        kind: 'payment',
        createdAt: Date.now(),
      }),
      privateKey,
    );
    await backend.publishAsync(topics.notify(DEVICE), JSON.stringify(n), { qos: 1 });
    await until(() => acks.some((a) => a.id === id), `the ack for ${id}`, 15_000);
    return acks.filter((a) => a.id === id).at(-1)!;
  }

  interface Figures {
    attempted: Record<string, number>;
    closedByBroker: number;
    closedByUs: number;
    answered: number;
    socketErrors: number;
    ms: number;
  }

  function flood(args: string[]): { done: Promise<Figures> } {
    const child = spawn(process.execPath, ['--import', 'tsx', FLOOD, broker.mqttUrl, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    return {
      done: new Promise((resolve, reject) =>
        child.on('exit', (code) =>
          code === 0
            ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as Figures)
            : reject(new Error(`flood exited ${code}: ${err}`)),
        ),
      ),
    };
  }

  it(`a provisioned speaker keeps announcing signed payments through 5,000 bad CONNECTs and 1,000 oversized publishes (${name})`, async () => {
    expect(await pay()).toMatchObject({ status: 'played' }); // warm: the voice is loaded

    const backendCreds = readBackendCredentials(dir)!;
    const started = Date.now();
    const { done } = flood([
      '--connects',
      '5000',
      '--publishes',
      '1000',
      '--user',
      backendCreds.username,
      '--pass',
      backendCreds.password,
      '--deadline-ms',
      '60000',
    ]);
    let finished: Figures | null = null;
    void done.then(
      (f) => (finished = f),
      () => {},
    );

    const during: Ack[] = [];
    while (!finished) {
      during.push(await pay());
      await new Promise((r) => setTimeout(r, 100));
    }
    const figures = (await done) as Figures;
    const elapsed = Date.now() - started;
    const attempted = Object.values(figures.attempted).reduce((a, b) => a + b, 0);
    console.log(
      `flood: ${JSON.stringify(figures)}; ${during.length} payments during it (${elapsed} ms); ${warnings.length} warning lines`,
    );

    expect(figures.attempted['oversized-publish']).toBe(1000);
    expect(attempted).toBe(6000); // nothing cut short by the deadline
    expect(during.length).toBeGreaterThanOrEqual(2);
    for (const a of during) expect(a).toMatchObject({ status: 'played' });

    // The log stayed proportionate: nowhere near a line per attempt.
    if (limits.connectRate !== null) expect(warnings.length).toBeLessThan(attempted / 10);

    // Still serving: the open session and, once the address's bucket has refilled, a new client.
    expect(await pay()).toMatchObject({ status: 'played' });
    await new Promise((r) => setTimeout(r, 2_500));
    const fresh = await connectOnce(broker.mqttUrl, { clientId: 'backend-after-flood', ...backendCreds });
    await fresh.publishAsync(topics.notify(DEVICE), 'not json', { qos: 1 });
    await endClient(fresh);
    expect(broker.aedes.closed).toBe(false);
    // Bounded: the flood stops at its 60 s deadline; a loaded CI machine once needed more than
    // 60 s for the whole test (14 s on a quiet one), hence the room.
  }, 120_000);
});

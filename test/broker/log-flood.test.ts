/**
 * One device must not be able to flood the broker's log (issue 12, item 3). A provisioned
 * device, over a real MQTT connection, publishes thousands of malformed acks, `rejected` acks
 * carrying a 15 KB detail, acks whose text is not a string, valid acks, malformed state
 * messages, and one SUBSCRIBE with 1,000 refused filters — all on its own topics, so the ACL
 * lets the publishes through. The log must stay a handful of short lines, each kind counted
 * in a "N more suppressed" line, and a real speaker must still announce a payment sent
 * through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { provisionDevice } from '../../broker/credentials.ts';
import { loadOrCreateBackendKeys } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { Speaker } from '../../device/speaker.ts';
import { Trust } from '../../device/trust.ts';
import { createHeadlessBoard } from '../../device/boards/headless.ts';
import type { Voice } from '../../src/voice/index.ts';
import { DEFAULT_SAMPLE_RATE, silence } from '../../src/audio/pcm.ts';
import { topics } from '../../src/protocol/index.ts';
import { captureLog, LEVEL, type LogLine } from '../fixtures/capture-log.ts';
import { backendCredentials, connected, end, tempDataDir } from './helpers.ts';
import { nodeVerifyingKey } from '../../src/protocol/signing-node.ts';

const LEGIT = 'SPK-LEGIT';
const EVIL = 'SPK-EVIL';
const N = 1000;

/** A voice that renders 50 ms of silence: the test is about the broker, not about speech. */
const quietVoice: Voice = { name: 'silent', render: async () => silence(50, DEFAULT_SAMPLE_RATE) };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a device flooding its own topics', () => {
  const dataDir = tempDataDir();
  const { log, lines } = captureLog();
  let broker: RunningBroker;
  let speaker: Speaker;
  let evil: MqttClient;
  let api: string;
  let token: string;

  beforeAll(async () => {
    broker = await startBroker({
      port: 0,
      wsPort: null,
      log,
      limits: {},
      security: { mode: 'secure', dataDir },
      service: { dataDir, httpPort: 0, pollMs: 50 },
    });
    api = broker.service!.httpUrl!;
    token = backendCredentials(dataDir).password;
    const legit = provisionDevice(broker.registry!, LEGIT);
    const evilCreds = provisionDevice(broker.registry!, EVIL);
    speaker = new Speaker({
      id: LEGIT,
      brokerUrl: broker.mqttUrl,
      lang: 'en-US',
      board: createHeadlessBoard(),
      voice: quietVoice,
      settings: { prompts: false },
      mqtt: { username: legit.username, password: legit.password },
      trust: new Trust({ publicKey: nodeVerifyingKey(loadOrCreateBackendKeys(brokerDir(dataDir)).publicKey) }),
    });
    const online = new Promise<void>((resolve) => speaker.on('event', (e) => e.event === 'online' && resolve()));
    await speaker.start();
    await online;
    evil = await connected(broker.mqttUrl, EVIL, evilCreds.password);
  });

  afterAll(async () => {
    await end(evil);
    await speaker?.stop();
    await broker?.close();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  }

  async function payLegit(amount: number): Promise<string> {
    const created = await call('POST', '/v1/payments', { device: LEGIT, amount, currency: 'USD', channel: 'generic' });
    expect(created.status).toBe(201);
    const settled = await call('GET', `/v1/payments/${created.json.payment.id}?wait=15s`);
    return settled.json.payment.status as string;
  }

  it('writes a few short lines, with counts, and the speaker still announces payments', async () => {
    expect(await payLegit(100)).toBe('played'); // warm, and the baseline
    const before = lines.length;
    const started = Date.now();

    const bigDetail = 'D'.repeat(15_000);
    const ack = (i: number, extra: Record<string, unknown>) =>
      JSON.stringify({ v: 1, id: `PAY-EVIL-${i}`, device: EVIL, at: Date.now(), ...extra });
    for (let i = 0; i < N; i++) evil.publish(topics.ack(EVIL), `not json ${i}`, { qos: 0 });
    for (let i = 0; i < N; i++)
      evil.publish(
        topics.ack(EVIL),
        ack(i, { status: 'rejected', reason: 'bad-signature', detail: bigDetail, text: 'T'.repeat(1000) }),
        { qos: 0 },
      );
    for (let i = 0; i < N; i++) evil.publish(topics.state(EVIL), `{"online": oops ${i}`, { qos: 0 });
    // Not strings where the outbox stores strings: each once failed its SQLite write, with an error line.
    for (let i = 0; i < N / 2; i++)
      evil.publish(topics.ack(EVIL), ack(i, { status: 'played', text: { said: i }, detail: [i] }), { qos: 0 });
    for (let i = 0; i < N / 2; i++)
      evil.publish(topics.ack(EVIL), ack(i, { status: 'played', text: 'ok' }), { qos: 0 });
    const filters = Array.from({ length: N }, (_, i) => `evil/${i}`);
    const granted = await evil.subscribeAsync(filters, { qos: 1 }).then(
      (g) => g.map((x) => x.qos),
      (err: { packet?: { granted: number[] } }) => err.packet?.granted ?? [],
    );
    expect(granted).toEqual(filters.map(() => 128));
    // A QoS 1 publish after all of them: its PUBACK means the broker has handled everything before it.
    await evil.publishAsync(topics.telemetry(EVIL), '{}', { qos: 1 });
    const floodMs = Date.now() - started;
    expect(evil.connected).toBe(true); // all of it was on its own topics: nothing to disconnect for

    // A real payment to another speaker goes through meanwhile.
    expect(await payLegit(200)).toBe('played');
    await sleep(1500); // the last "N more suppressed" lines
    const flood = lines.slice(before);
    const warnings = flood.filter((l) => l.level >= LEVEL.warn);
    const text = flood.map((l) => JSON.stringify(l));
    console.log(
      `log flood: ${5 * N} publishes and a ${N}-filter SUBSCRIBE in ${floodMs} ms → ${flood.length} lines ` +
        `(${warnings.length} at warn or above), ${text.reduce((n, t) => n + t.length, 0)} bytes, longest ${Math.max(...text.map((t) => t.length))}`,
    );

    // Bounded: a line and a count per kind per second, not a line per message.
    const seconds = Math.ceil((floodMs + 2000) / 1000);
    expect(flood.length).toBeLessThanOrEqual(12 * seconds + 10);
    expect(warnings.length).toBeLessThanOrEqual(10 * seconds + 10);
    // Short: no copied device text over 200 characters, and it says how much was cut.
    for (const t of text) expect(t.length).toBeLessThan(2000);
    expect(text.some((t) => t.includes('D'.repeat(201)) || t.includes('T'.repeat(201)))).toBe(false);
    expect(text.some((t) => /D…\(14800 more\)/.test(t))).toBe(true);
    // No write of the outbox failed for an ack's odd fields.
    expect(flood.filter((l) => l.level >= LEVEL.error)).toEqual([]);

    // Every message is accounted for: logged, or counted in a "more suppressed" line.
    const counted = (logged: RegExp, label: RegExp) =>
      flood.filter((l) => logged.test(l.msg)).length +
      flood.filter((l) => label.test(l.msg)).reduce((n, l) => n + (l.suppressed as number), 0);
    expect(counted(/^ignored a malformed ack$/, /more suppressed .*: malformed acks from device SPK-EVIL$/)).toBe(N);
    expect(counted(/^device rejected a notification/, /more suppressed .*: rejections from device SPK-EVIL$/)).toBe(N);
    expect(
      counted(
        /^ignored a malformed state message$/,
        /more suppressed .*: malformed state messages from device SPK-EVIL$/,
      ),
    ).toBe(N);
    expect(
      counted(/^refused subscribe by device SPK-EVIL/, /more suppressed .*refused subscribes by device SPK-EVIL/),
    ).toBe(N);
    const summaries = flood.filter((l: LogLine) => /^\d+ more suppressed in the last 1 s: /.test(l.msg));
    expect(summaries.length).toBeGreaterThanOrEqual(4);

    // The broker still serves: the speaker announces another payment, and the flooder's own session is intact.
    expect(await payLegit(300)).toBe('played');
    expect(broker.aedes.closed).toBe(false);
  }, 60_000);
});

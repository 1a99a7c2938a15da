/**
 * GET /v1/events over real HTTP, in front of a real secure broker with real speaker processes:
 * a payment's events follow it to `played`, a speaker's connect and disconnect show as device
 * events, the credential is required, `?device=` filters, and neither a closing broker nor a
 * client that stops reading can hold the server up.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { Outbox } from '../../broker/outbox/outbox.ts';
import { startHttpApi } from '../../broker/http/server.ts';
import { DEFAULT_RETRY } from '../../broker/outbox/retry.ts';
import { VERSION } from '../../src/version.ts';
import type { Logger } from '../../src/log.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { backendCredentials, tempDataDir, startSecureService } from './helpers.ts';

interface SseEvent {
  event: string;
  data: any;
}

/** An event-stream reader on fetch(), as the console reads it: events queue up until asked for. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private readonly abort = new AbortController();
  private wake: () => void = () => {};

  static async open(url: string, token: string | null): Promise<{ status: number; client: SseClient; res: Response }> {
    const c = new SseClient();
    const res = await fetch(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: c.abort.signal,
    });
    if (res.status === 200) void c.read(res.body!);
    return { status: res.status, client: c, res };
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let text = '';
    try {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          this.parse(text.slice(0, end));
          text = text.slice(end + 2);
        }
        this.wake();
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.wake();
  }

  private parse(block: string): void {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) this.events.push({ event, data: JSON.parse(data.join('\n')) });
  }

  /** Resolves with the first event (from the start) that matches, waiting up to `ms`. */
  async next(match: (e: SseEvent) => boolean, ms = 10_000, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (this.ended) throw new Error(`the stream ended before a matching event; got ${JSON.stringify(this.events)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event in ${ms} ms; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => (clearTimeout(t), resolve());
      });
    }
  }

  async untilEnded(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }

  close(): void {
    this.abort.abort();
  }
}

let dir: string;
let broker: RunningBroker;
let api: string;
let token: string;
const speakers: CliProcess[] = [];
const streams: SseClient[] = [];

async function startSpeaker(id: string): Promise<CliProcess> {
  const config = path.join(dir, `${id}.json`);
  if (!fs.existsSync(config)) {
    const r = await runCli(['provision', id, '--data', dir, '--broker', broker.mqttUrl, '--out', config]);
    expect(r.code, r.stderr).toBe(0);
  }
  const speaker = new CliProcess(['device', '--config', config, '--audio', `file:${dir}/wav-${id}`, '--json']);
  speakers.push(speaker);
  await speaker.waitForEvent((e) => e.event === 'online');
  return speaker;
}

async function stream(query = ''): Promise<SseClient> {
  const { status, client } = await SseClient.open(`${api}/v1/events${query}`, token);
  expect(status).toBe(200);
  streams.push(client);
  return client;
}

async function pay(device: string, amount: number): Promise<string> {
  const res = await fetch(`${api}/v1/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ device, amount, currency: 'CNY', channel: 'alipay' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { payment: { id: string } }).payment.id;
}

beforeAll(async () => {
  ({ dir, broker, api, token } = await startSecureService({ retry: { baseMs: 300, maxMs: 1000 }, pollMs: 50 }));
  await startSpeaker('SPK-EV1');
}, 60_000);

afterAll(async () => {
  for (const s of streams) s.close();
  for (const s of speakers) await s.stop();
  await broker.close();
});

describe('GET /v1/events', () => {
  it('refuses a client without the API token, and bad parameters, in the API error shape', async () => {
    const none = await SseClient.open(`${api}/v1/events`, null);
    expect(none.status).toBe(401);
    expect(none.res.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await none.res.json()) as any).error.code).toBe('unauthorized');
    const wrong = await SseClient.open(`${api}/v1/events`, 'not-the-token');
    expect(wrong.status).toBe(401);
    await wrong.res.body?.cancel();

    const badDevice = await SseClient.open(`${api}/v1/events?device=${encodeURIComponent('SPK 1/#')}`, token);
    expect(badDevice.status).toBe(400);
    expect(((await badDevice.res.json()) as any).error).toMatchObject({ code: 'invalid-device', field: 'device' });
    const typo = await SseClient.open(`${api}/v1/events?devcie=SPK-EV1`, token);
    expect(typo.status).toBe(400);
    expect(((await typo.res.json()) as any).error).toMatchObject({ code: 'unknown-parameter', field: 'devcie' });
  });

  it("follows a payment from queued to played; the last event's payment is what GET /v1/payments/:id shows", async () => {
    const events = await stream();
    const id = await pay('SPK-EV1', 500);
    const played = await events.next(
      (e) => e.event === 'payment' && e.data.payment.id === id && e.data.payment.status === 'played',
    );
    const mine = events.events.filter((e) => e.event === 'payment' && e.data.payment.id === id);
    expect(mine[0]!.data.payment.status).toBe('queued');
    expect(mine.map((e) => e.data.payment.status)).toContain('played');
    expect(played.data.payment.history.map((h: { status: string }) => h.status)).toEqual([
      'queued',
      'delivered',
      'played',
    ]);
    expect(played.data.payment.text).toEqual(expect.any(String));
    const res = await fetch(`${api}/v1/payments/${id}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as any;
    expect(played.data).toEqual({ payment: body.payment });
    expect(body.payment.history).toEqual(body.history);
    // The speaker's ack changed its counts: a device event says so.
    const device = await events.next(
      (e) => e.event === 'device' && e.data.device.id === 'SPK-EV1' && e.data.device.acks.played >= 1,
    );
    expect(device.data.device).toMatchObject({ online: true, status: 'active' });
  });

  it('shows a speaker connecting (with its reported state) and disconnecting; ?device= keeps only its events', async () => {
    const only = await stream('?device=SPK-EV2');
    const all = await stream();
    const speaker = await startSpeaker('SPK-EV2');
    const up = await only.next((e) => e.event === 'device' && e.data.device.online && e.data.device.state?.online);
    expect(up.data.device).toMatchObject({
      id: 'SPK-EV2',
      status: 'active',
      state: { online: true, firmware: VERSION, lang: expect.any(String), volume: expect.any(Number) },
    });
    // Another device's payment reaches the unfiltered stream only.
    const other = await pay('SPK-EV1', 700);
    await all.next((e) => e.event === 'payment' && e.data.payment.id === other && e.data.payment.status === 'played');
    expect(await speaker.stop()).toBe(0);
    const down = await only.next((e) => e.event === 'device' && !e.data.device.online);
    expect(down.data.device).toMatchObject({ id: 'SPK-EV2', online: false, lastSeen: expect.any(Number) });
    expect(only.events.every((e) => e.event === 'device' && e.data.device.id === 'SPK-EV2')).toBe(true);
  }, 30_000);

  it('ends open streams when the broker closes, without holding the close up', async () => {
    const other = tempDataDir();
    const b = await startBroker({
      port: 0,
      wsPort: null,
      security: { mode: 'secure', dataDir: other },
      service: { dataDir: other, httpPort: 0 },
    });
    const { status, client } = await SseClient.open(
      `${b.service!.httpUrl!}/v1/events`,
      backendCredentials(other).password,
    );
    expect(status).toBe(200);
    const started = Date.now();
    await b.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await client.untilEnded(3000)).toBe(true);
  });
});

describe('the event stream against clients that misbehave (API on a real broker and outbox)', () => {
  let b: RunningBroker;
  let outbox: Outbox;
  let server: Awaited<ReturnType<typeof startHttpApi>>;
  const warnings: string[] = [];
  const warn = (_o: unknown, msg?: string) => void warnings.push(String(msg));
  const log = { debug: () => {}, info: () => {}, warn, error: warn, child: () => log } as unknown as Logger;

  beforeAll(async () => {
    b = await startBroker({ port: 0, wsPort: null });
    outbox = Outbox.open(tempDataDir(), { sign: (n) => n, ttlMs: 60_000, retry: DEFAULT_RETRY });
    server = await startHttpApi({
      host: '127.0.0.1',
      port: 0,
      outbox,
      log,
      fleet: { aedes: b.aedes, tracker: b.tracker, registry: null },
      events: { keepaliveMs: 100, maxBufferedBytes: 256 * 1024, slowClientMs: 300 },
    });
  });

  afterAll(async () => {
    await server.close();
    outbox.close();
    await b.close();
  });

  it('sends a keepalive comment while nothing happens', async () => {
    const { client } = await SseClient.open(`${server.url}/v1/events`, null);
    await new Promise((r) => setTimeout(r, 350));
    client.close();
    expect(client.comments).toContain('keepalive');
  });

  it('drops a client that stops reading, with a warning, and keeps serving the others', async () => {
    const port = Number(new URL(server.url).port);
    const slow = net.connect(port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write('GET /v1/events HTTP/1.1\r\nHost: test\r\n\r\n');
    slow.pause(); // reads nothing: the kernel's buffers fill, then the server's
    let closed = false;
    slow.on('close', () => (closed = true));
    slow.on('error', () => {});
    const reader = (await SseClient.open(`${server.url}/v1/events`, null)).client;
    streams.push(reader);
    let sent = 0;
    // Each payment event is ~700 bytes; loopback buffers hold a few MB before the server's grows.
    while (!warnings.some((w) => w.includes('does not read')) && sent < 40_000) {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          outbox.accept({ device: 'SPK-FLOOD', amount: 1 + i, currency: 'CNY', channel: 'wechat', kind: 'payment' }),
        ),
      );
      sent += 500;
    }
    expect(warnings.some((w) => w.includes('does not read'))).toBe(true);
    // Reading again, the client finds what the kernel had buffered, then the end of the stream.
    slow.resume();
    const deadline = Date.now() + 10_000;
    while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(true);
    // The reading client is still served.
    const id = (
      await outbox.accept({ device: 'SPK-AFTER', amount: 9, currency: 'CNY', channel: 'wechat', kind: 'payment' })
    ).payment.id;
    await reader.next((e) => e.event === 'payment' && e.data.payment.id === id, 10_000);
  }, 60_000);
});

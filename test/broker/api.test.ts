/**
 * The notification API over real HTTP, in front of a real secure broker and its outbox, with a
 * real provisioned speaker process writing WAVs: validation errors, authentication,
 * idempotency, and each status a payment passes through.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { openRegistry } from '../../broker/registry.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { tempDataDir, startSecureService } from './helpers.ts';

let dir: string;
let broker: RunningBroker;
let api: string;
let token: string;
const devices: CliProcess[] = [];

async function provisioned(id: string): Promise<string> {
  const file = path.join(dir, `${id}.json`);
  const r = await runCli(['provision', id, '--data', dir, '--broker', broker.mqttUrl, '--out', file]);
  expect(r.code, r.stderr).toBe(0);
  return file;
}

async function startSpeaker(id: string): Promise<CliProcess> {
  const config = fs.existsSync(path.join(dir, `${id}.json`)) ? path.join(dir, `${id}.json`) : await provisioned(id);
  const device = new CliProcess(['device', '--config', config, '--audio', `file:${dir}/wav-${id}`, '--json']);
  devices.push(device);
  await device.waitForEvent((e) => e.event === 'online');
  return device;
}

const wavsFor = (device: string, paymentId: string) =>
  fs.existsSync(`${dir}/wav-${device}`)
    ? fs.readdirSync(`${dir}/wav-${device}`).filter((f) => f.endsWith(`${paymentId}.wav`))
    : [];

async function call(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${api}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

const pay = (patch: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  call(
    'POST',
    '/v1/payments',
    { device: 'SPK-API', amount: 12345, currency: 'CNY', channel: 'wechat', ...patch },
    headers,
  );

beforeAll(async () => {
  ({ dir, broker, api, token } = await startSecureService({ retry: { baseMs: 300, maxMs: 1000 }, pollMs: 50 }));
  await startSpeaker('SPK-API');
  await provisioned('SPK-LATE');
  await provisioned('SPK-GONE');
  const registry = openRegistry(dir);
  registry.revoke('SPK-GONE', Date.now());
  registry.close();
}, 60_000);

afterAll(async () => {
  for (const d of devices) expect(await d.stop()).toBe(0);
  await broker.close();
});

describe('POST /v1/payments validation', () => {
  const cases: [string, unknown, number, string, string][] = [
    [
      'a missing device',
      { amount: 1, currency: 'CNY', channel: 'wechat' },
      400,
      'missing-field',
      '"device" is missing',
    ],
    [
      'a decimal amount',
      { device: 'SPK-API', amount: 123.45, currency: 'CNY', channel: 'wechat' },
      400,
      'invalid-field',
      '"amount" is 123.45: it must be a positive integer count of minor units',
    ],
    [
      'an amount as a string',
      { device: 'SPK-API', amount: '100', currency: 'CNY', channel: 'wechat' },
      400,
      'invalid-field',
      '"amount" is "100"',
    ],
    [
      'a zero amount',
      { device: 'SPK-API', amount: 0, currency: 'CNY', channel: 'wechat' },
      400,
      'invalid-field',
      '"amount" is 0',
    ],
    [
      'a negative amount',
      { device: 'SPK-API', amount: -5, currency: 'CNY', channel: 'wechat' },
      400,
      'invalid-field',
      '"amount" is -5',
    ],
    [
      'an amount beyond what a speaker reads',
      { device: 'SPK-API', amount: 10 ** 15, currency: 'CNY', channel: 'wechat' },
      400,
      'amount-out-of-range',
      'a speaker reads at most 9999999999999',
    ],
    [
      'an unknown currency',
      { device: 'SPK-API', amount: 1, currency: 'ABC', channel: 'wechat' },
      400,
      'unknown-currency',
      '"currency" is "ABC"',
    ],
    [
      'an unknown channel',
      { device: 'SPK-API', amount: 1, currency: 'CNY', channel: 'venmo' },
      400,
      'invalid-field',
      '"channel" is "venmo": it must be one of "wechat"',
    ],
    [
      'an unknown kind',
      { device: 'SPK-API', amount: 1, currency: 'CNY', channel: 'wechat', kind: 'gift' },
      400,
      'invalid-field',
      '"kind" is "gift"',
    ],
    [
      'an unknown field',
      { device: 'SPK-API', amount: 1, currency: 'CNY', channel: 'wechat', amout: 1 },
      400,
      'unknown-field',
      'unknown field "amout"',
    ],
    [
      'a bad device id',
      { device: '../etc', amount: 1, currency: 'CNY', channel: 'wechat' },
      400,
      'invalid-field',
      '"device" is "../etc"',
    ],
    [
      'a key with spaces',
      { device: 'SPK-API', amount: 1, currency: 'CNY', channel: 'wechat', idempotencyKey: 'a b' },
      400,
      'invalid-field',
      '"idempotencyKey" is "a b"',
    ],
    ['a JSON array', [1, 2], 400, 'invalid-body', 'must be a JSON object'],
    [
      'a device nobody provisioned',
      { device: 'SPK-NOPE', amount: 1, currency: 'CNY', channel: 'wechat' },
      404,
      'unknown-device',
      'run "npx payspeaker provision SPK-NOPE" first',
    ],
    [
      'a revoked device',
      { device: 'SPK-GONE', amount: 1, currency: 'CNY', channel: 'wechat' },
      409,
      'device-revoked',
      'device SPK-GONE was revoked',
    ],
  ];
  it.each(cases)('refuses %s with a specific error', async (_name, body, status, code, message) => {
    const r = await call('POST', '/v1/payments', body);
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.message).toContain(message);
  });

  it('refuses malformed JSON, another media type and an oversized body', async () => {
    const malformed = await call('POST', '/v1/payments', '{"device": "SPK-API",');
    expect([malformed.status, malformed.json.error.code]).toEqual([400, 'malformed-json']);
    const text = await call('POST', '/v1/payments', 'amount=1', { 'content-type': 'text/plain' });
    expect([text.status, text.json.error.code]).toEqual([415, 'unsupported-media-type']);
    const huge = await call('POST', '/v1/payments', JSON.stringify({ device: 'SPK-API', pad: 'x'.repeat(64 * 1024) }));
    expect([huge.status, huge.json.error.code]).toEqual([413, 'body-too-large']);
  });

  it('refuses an Idempotency-Key header that contradicts the body', async () => {
    const r = await pay({ idempotencyKey: 'one' }, { 'idempotency-key': 'two' });
    expect([r.status, r.json.error.code]).toEqual([400, 'idempotency-key-mismatch']);
  });

  it('stores nothing for a refused request', async () => {
    await call('POST', '/v1/payments', { device: 'SPK-API', amount: 1.5, currency: 'CNY', channel: 'wechat' });
    expect(broker.service!.outbox.deviceSummary('SPK-API').counts.queued).toBe(0);
  });
});

describe('authentication', () => {
  it('wants the backend token, says where to find it, and accepts it as Bearer or Basic', async () => {
    const none = await fetch(`${api}/v1/payments/x`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await none.json()) as any).error.message).toContain('backend.json');
    const wrong = await call('GET', '/v1/devices/SPK-API', undefined, { authorization: 'Bearer not-the-secret' });
    expect([wrong.status, wrong.json.error.message]).toEqual([401, expect.stringContaining('wrong API token')]);
    const basic = await call('GET', '/v1/devices/SPK-API', undefined, {
      authorization: `Basic ${Buffer.from(`backend:${token}`).toString('base64')}`,
    });
    expect(basic.status).toBe(200);
  });

  it('checks the token before looking at the body', async () => {
    const res = await fetch(`${api}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(401);
  });
});

describe('a payment through the service', () => {
  it('201 once stored, then queued → delivered → played, announced once on the speaker', async () => {
    const created = await pay({ amount: 4200, channel: 'alipay' });
    expect(created.status).toBe(201);
    const id = created.json.payment.id as string;
    expect(created.headers.get('location')).toBe(`/v1/payments/${id}`);
    expect(created.json.payment).toMatchObject({
      device: 'SPK-API',
      amount: 4200,
      currency: 'CNY',
      status: 'queued',
      attempts: 1,
    });
    const done = await call('GET', `/v1/payments/${id}?wait=10s`);
    expect(done.json.payment).toMatchObject({ status: 'played', text: '支付宝到账四十二元' });
    expect(done.json.history.map((e: { status: string }) => e.status)).toEqual(['queued', 'delivered', 'played']);
    expect(wavsFor('SPK-API', id)).toHaveLength(1);
  });

  it('one payment and one announcement for concurrent retries with the same key; 409 for a changed request', async () => {
    const results = await Promise.all([1, 2, 3].map(() => pay({ amount: 777 }, { 'idempotency-key': 'order-777' })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    const ids = new Set(results.map((r) => r.json.payment.id));
    expect(ids.size).toBe(1);
    expect(results.find((r) => r.status === 200)!.headers.get('idempotent-replayed')).toBe('true');
    const [id] = [...ids] as string[];
    expect((await call('GET', `/v1/payments/${id}?wait=10`)).json.payment.status).toBe('played');
    const again = await pay({ amount: 777, idempotencyKey: 'order-777' });
    expect([again.status, again.json.payment.id]).toEqual([200, id]);
    await new Promise((r) => setTimeout(r, 500));
    expect(wavsFor('SPK-API', id!)).toHaveLength(1);
    const changed = await pay({ amount: 778 }, { 'idempotency-key': 'order-777' });
    expect([changed.status, changed.json.error.code, changed.json.error.field]).toEqual([
      409,
      'idempotency-conflict',
      'idempotencyKey',
    ]);
    expect(changed.json.error.message).toContain('different amount');
  });

  it('keeps a payment for an offline speaker queued, without piling up copies, and plays it once the speaker comes online', async () => {
    const created = await pay({ device: 'SPK-LATE', amount: 100 });
    const id = created.json.payment.id as string;
    // Several retry steps (300 ms-1 s) pass: none sends another copy to a speaker that is not connected.
    const waited = await call('GET', `/v1/payments/${id}?wait=1500ms`);
    expect(waited.json.payment.status).toBe('queued');
    expect(waited.json.payment.attempts).toBe(1);
    expect(waited.json.history.map((e: { event: string }) => e.event)).toEqual(['accepted']);
    await startSpeaker('SPK-LATE');
    const done = await call('GET', `/v1/payments/${id}?wait=10s`);
    expect(done.json.payment.status).toBe('played');
    expect(wavsFor('SPK-LATE', id)).toHaveLength(1);
  });

  it('404 for an unknown payment id and an unknown endpoint, 400 for a bad wait', async () => {
    const unknown = await call('GET', '/v1/payments/PAY-NOPE');
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'unknown-payment']);
    const endpoint = await call('GET', '/v1/refunds');
    expect([endpoint.status, endpoint.json.error.code]).toEqual([404, 'not-found']);
    const paid = await pay({ amount: 5 });
    const wait = await call('GET', `/v1/payments/${paid.json.payment.id}?wait=soon`);
    expect([wait.status, wait.json.error.code]).toEqual([400, 'invalid-wait']);
    expect((await call('GET', `/v1/payments/${paid.json.payment.id}?wait=10`)).json.payment.status).toBe('played');
  });
});

describe('GET /v1/devices/:id', () => {
  it('reports presence, last seen and per-status counts', async () => {
    const r = await call('GET', '/v1/devices/SPK-API');
    expect(r.status).toBe(200);
    expect(r.json.device).toMatchObject({
      id: 'SPK-API',
      status: 'active',
      online: true,
      lastSeen: expect.any(Number),
    });
    expect(r.json.device.payments.played).toBeGreaterThanOrEqual(2);
    expect(r.json.device.payments.queued).toBe(0);
  });

  it('says a device that was never heard of is unknown, and how to fix that', async () => {
    const r = await call('GET', '/v1/devices/SPK-NEVER');
    expect([r.status, r.json.error.code]).toEqual([404, 'unknown-device']);
    expect(r.json.error.message).toContain('provision SPK-NEVER');
  });
});

describe('time-to-live', () => {
  it('marks a payment nobody acknowledges expired', async () => {
    const other = tempDataDir();
    const short = await startBroker({
      port: 0,
      wsPort: null,
      service: { dataDir: other, httpPort: 0, ttlMs: 600, retry: { baseMs: 100, maxMs: 200 }, pollMs: 50 },
    });
    try {
      const res = await fetch(`${short.service!.httpUrl}/v1/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ device: 'SPK-NOBODY', amount: 1, currency: 'CNY', channel: 'wechat' }),
      });
      expect(res.status).toBe(201);
      const { payment } = (await res.json()) as { payment: { id: string } };
      const done = (await (await fetch(`${short.service!.httpUrl}/v1/payments/${payment.id}?wait=5`)).json()) as any;
      expect(done.payment.status).toBe('expired');
      expect(done.history.at(-1)).toMatchObject({ event: 'expired', status: 'expired' });
    } finally {
      await short.close();
    }
  });
});

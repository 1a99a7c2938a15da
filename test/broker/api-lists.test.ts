/**
 * The console's first screen over real HTTP, in front of a real secure broker with a real
 * speaker process: GET /v1/payments (newest first, limited, per device, validated),
 * GET /v1/devices (registry, tracker and outbox devices, each as GET /v1/devices/:id shows it,
 * never the backend) and GET /v1/info (public, on a secure and an insecure broker).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { BACKEND_PUBLIC_KEY_FILE } from '../../broker/backend-keys.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { VERSION } from '../../src/version.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { provision, tempDataDir, startSecureService } from './helpers.ts';

let dir: string;
let broker: RunningBroker;
let api: string;
let token: string;
let speaker: CliProcess;
/** Payment ids in the order they were made. */
const made: string[] = [];

async function get(url: string, auth: string | null = token): Promise<{ status: number; json: any }> {
  const res = await fetch(`${api}${url}`, { headers: auth ? { authorization: `Bearer ${auth}` } : {} });
  return { status: res.status, json: await res.json() };
}

async function pay(device: string, amount: number): Promise<string> {
  const res = await fetch(`${api}/v1/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ device, amount, currency: 'CNY', channel: 'wechat' }),
  });
  expect(res.status).toBe(201);
  const id = ((await res.json()) as { payment: { id: string } }).payment.id;
  made.push(id);
  return id;
}

beforeAll(async () => {
  ({ dir, broker, api, token } = await startSecureService({ retry: { baseMs: 300, maxMs: 1000 }, pollMs: 50 }));
  const config = path.join(dir, 'SPK-LIST.json');
  const r = await runCli(['provision', 'SPK-LIST', '--data', dir, '--broker', broker.mqttUrl, '--out', config]);
  expect(r.code, r.stderr).toBe(0);
  speaker = new CliProcess(['device', '--config', config, '--audio', `file:${dir}/wav`, '--json']);
  await speaker.waitForEvent((e) => e.event === 'online');
  provision(dir, 'SPK-IDLE'); // provisioned, never connected, no payments
  provision(dir, 'SPK-OFF'); // provisioned, payments queued for it, never connected
  for (let i = 1; i <= 3; i++) await pay('SPK-LIST', 100 * i);
  await pay('SPK-OFF', 999);
  // Until the speaker has played its three.
  for (const id of made.slice(0, 3))
    expect((await get(`/v1/payments/${id}?wait=10`)).json.payment.status).toBe('played');
}, 60_000);

afterAll(async () => {
  expect(await speaker.stop()).toBe(0);
  await broker.close();
});

describe('GET /v1/payments', () => {
  it('lists the newest first, 50 by default, each with its history as GET /v1/payments/:id shows it', async () => {
    const r = await get('/v1/payments');
    expect(r.status).toBe(200);
    expect(r.json.payments.map((p: { id: string }) => p.id)).toEqual([...made].reverse());
    const one = await get(`/v1/payments/${made[0]}`);
    expect(r.json.payments.at(-1)).toEqual(one.json.payment);
    expect(r.json.payments.at(-1).history.map((h: { status: string }) => h.status)).toEqual([
      'queued',
      'delivered',
      'played',
    ]);
  });

  it('takes ?limit= and ?device=', async () => {
    const two = await get('/v1/payments?limit=2');
    expect(two.json.payments.map((p: { id: string }) => p.id)).toEqual([made[3], made[2]]);
    const mine = await get('/v1/payments?device=SPK-LIST&limit=500');
    expect(mine.json.payments.map((p: { id: string }) => p.id)).toEqual([made[2], made[1], made[0]]);
    expect((await get('/v1/payments?device=SPK-NOBODY')).json).toEqual({ payments: [] });
  });

  it('refuses a limit out of 1-500, a bad device id, an unknown or repeated parameter, and a missing token', async () => {
    for (const limit of ['0', '501', 'ten', '1.5', '-1', '']) {
      const r = await get(`/v1/payments?limit=${limit}`);
      expect([r.status, r.json.error.code, r.json.error.field], limit).toEqual([400, 'invalid-limit', 'limit']);
      expect(r.json.error.message).toContain('from 1 to 500');
    }
    const device = await get('/v1/payments?device=SPK%2F1');
    expect([device.status, device.json.error.code]).toEqual([400, 'invalid-device']);
    const typo = await get('/v1/payments?limt=5');
    expect([typo.status, typo.json.error.code, typo.json.error.field]).toEqual([400, 'unknown-parameter', 'limt']);
    expect(typo.json.error.message).toContain('limit, device');
    const twice = await get('/v1/payments?limit=1&limit=2');
    expect([twice.status, twice.json.error.code]).toEqual([400, 'invalid-parameter']);
    const anonymous = await get('/v1/payments', null);
    expect([anonymous.status, anonymous.json.error.code]).toEqual([401, 'unauthorized']);
  });
});

describe('GET /v1/devices', () => {
  it('lists registry, connected and paid-to devices, each as GET /v1/devices/:id shows it, never the backend', async () => {
    const r = await get('/v1/devices');
    expect(r.status).toBe(200);
    const ids = r.json.devices.map((d: { id: string }) => d.id);
    expect(ids).toEqual(['SPK-IDLE', 'SPK-LIST', 'SPK-OFF']);
    const [idle, live, off] = r.json.devices;
    expect(live).toMatchObject({
      id: 'SPK-LIST',
      status: 'active',
      online: true,
      lastSeen: expect.any(Number),
      payments: { played: 3, queued: 0 },
      acks: { played: 3 },
      state: {
        online: true,
        firmware: VERSION,
        lang: expect.any(String),
        volume: expect.any(Number),
        at: expect.any(Number),
      },
    });
    expect(idle).toMatchObject({ id: 'SPK-IDLE', status: 'active', online: false, lastSeen: null, state: null });
    expect(idle.payments.queued + idle.payments.played).toBe(0);
    expect(off).toMatchObject({ id: 'SPK-OFF', online: false, lastPaymentAt: expect.any(Number) });
    expect(off.payments.queued + off.payments.delivered).toBe(1);
    for (const d of r.json.devices) {
      const one = await get(`/v1/devices/${d.id}`);
      // lastSeen of a connected device is "now", which moves between the two requests.
      expect({ ...one.json.device, lastSeen: 0 }).toEqual({ ...d, lastSeen: 0 });
    }
    expect(JSON.stringify(r.json)).not.toMatch(/"backend"|secret|salt/i);
  });

  it('refuses query parameters and a missing token', async () => {
    const q = await get('/v1/devices?limit=5');
    expect([q.status, q.json.error.code]).toEqual([400, 'unknown-parameter']);
    const anonymous = await get('/v1/devices', null);
    expect([anonymous.status, anonymous.json.error.code]).toEqual([401, 'unauthorized']);
  });
});

describe('GET /v1/info', () => {
  it('tells anyone, without a token, that the broker is secure, where MQTT is and the public key', async () => {
    const r = await get('/v1/info', null);
    expect(r.status).toBe(200);
    const pem = fs.readFileSync(path.join(brokerDir(dir), BACKEND_PUBLIC_KEY_FILE), 'utf8');
    expect(r.json).toEqual({
      insecure: false,
      mqtt: { tcp: broker.mqttUrl, ws: null, tls: null, wss: null },
      backendPublicKeyPem: pem,
      version: VERSION,
    });
    expect(pem).toContain('BEGIN PUBLIC KEY');
  });

  it('says so on an insecure broker, with its WebSocket listener', async () => {
    const other = tempDataDir();
    const open = await startBroker({
      port: 0,
      wsPort: 0,
      security: { mode: 'insecure' },
      service: { dataDir: other, httpPort: 0 },
    });
    try {
      const res = await fetch(`${open.service!.httpUrl!}/v1/info`);
      const info = (await res.json()) as any;
      expect(info).toMatchObject({ insecure: true, mqtt: { tcp: open.mqttUrl, ws: open.wsUrl } });
      expect(info.mqtt.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
      expect(info.backendPublicKeyPem).toContain('BEGIN PUBLIC KEY');
      // Anything the API serves on an insecure broker needs no token either.
      expect((await fetch(`${open.service!.httpUrl!}/v1/devices`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

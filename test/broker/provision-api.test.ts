/**
 * POST /v1/devices/:id/provision against a real secure broker: the identity it makes connects
 * over real MQTT with the credentials in the answer (and a wrong password does not), renewal
 * drops the old password at once, and an --insecure broker says why it cannot provision.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { backendPublicKeyFile } from '../../broker/data-dir.ts';
import { closed, connectDevice, end, tempDataDir, startSecureService } from './helpers.ts';

let dir: string;
let broker: RunningBroker;
let api: string;
let token: string;

async function provisionCall(id: string, query = '', auth = true) {
  const res = await fetch(`${api}/v1/devices/${id}/provision${query}`, {
    method: 'POST',
    headers: auth ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

beforeAll(async () => {
  ({ dir, broker, api, token } = await startSecureService());
});

afterAll(async () => {
  await broker?.close();
});

describe('POST /v1/devices/:id/provision', () => {
  let first: { username: string; password: string };

  it('makes an identity that connects over MQTT with the credentials it returns, once, uncached', async () => {
    const r = await provisionCall('SPK-WEB-1');
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(r.json).toEqual({
      device: 'SPK-WEB-1',
      credentials: { username: 'SPK-WEB-1', password: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) },
      backendPublicKeyPem: fs.readFileSync(backendPublicKeyFile(dir), 'utf8'),
    });
    expect(r.headers.get('cache-control')).toBe('no-store');
    first = r.json.credentials;

    const ok = await connectDevice(broker.mqttUrl, 'SPK-WEB-1', first.password);
    expect(ok.code).toBe(0);
    await end(ok.client);
    const wrong = await connectDevice(broker.mqttUrl, 'SPK-WEB-1', `${first.password.slice(0, -1)}x`);
    expect(wrong.code).toBe(4); // CONNACK 4: bad user name or password [MQTT-3.2.2.3]
    expect(broker.registry!.find('SPK-WEB-1')).toMatchObject({ role: 'device', status: 'active' });
  });

  it('refuses to provision it twice without renew=1, and says so', async () => {
    const r = await provisionCall('SPK-WEB-1');
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('already-provisioned');
    expect(r.json.error.message).toMatch(
      /^device SPK-WEB-1 is already provisioned \(active since \S+\): pass \?renew=1 to issue a new password/,
    );
  });

  it('with renew=1 issues a new password: the old one stops working and its live connection is dropped', async () => {
    const live = await connectDevice(broker.mqttUrl, 'SPK-WEB-1', first.password);
    expect(live.code).toBe(0);
    const gone = closed(live.client!);
    const r = await provisionCall('SPK-WEB-1', '?renew=1');
    expect(r.status).toBe(201);
    expect(r.json.credentials.password).not.toBe(first.password);
    await gone;
    expect((await connectDevice(broker.mqttUrl, 'SPK-WEB-1', first.password)).code).toBe(4);
    const renewed = await connectDevice(broker.mqttUrl, 'SPK-WEB-1', r.json.credentials.password);
    expect(renewed.code).toBe(0);
    await end(renewed.client);
  });

  const refusals: [string, string, string, number, string, RegExp][] = [
    [
      'the reserved id',
      'backend',
      '',
      400,
      'reserved-device-id',
      /"backend" is reserved for the backend's own identity/,
    ],
    ['the reserved id in capitals', 'BACKEND', '', 400, 'reserved-device-id', /"BACKEND" is reserved/],
    ['an invalid id', 'SPK%2F%23', '', 400, 'invalid-device', /"SPK\/#" is not a device id/],
    [
      'a renew it cannot read',
      'SPK-WEB-2',
      '?renew=maybe',
      400,
      'invalid-renew',
      /\?renew=maybe is not understood: pass renew=1/,
    ],
  ];
  it.each(refusals)('refuses %s', async (_what, id, query, status, code, message) => {
    const r = await provisionCall(id, query);
    expect(r.status).toBe(status);
    expect(r.json.error).toMatchObject({ code, message: expect.stringMatching(message) });
    expect(broker.registry!.find('SPK-WEB-2')).toBeNull();
  });

  it('asks for the backend token', async () => {
    const r = await provisionCall('SPK-WEB-3', '', false);
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('unauthorized');
    expect(broker.registry!.find('SPK-WEB-3')).toBeNull();
  });
});

describe('on an --insecure broker', () => {
  it('answers 409 insecure-broker: there is no registry to provision into', async () => {
    const open = await startBroker({
      port: 0,
      wsPort: null,
      security: { mode: 'insecure' },
      service: { dataDir: tempDataDir(), httpPort: 0 },
    });
    try {
      const res = await fetch(`${open.service!.httpUrl}/v1/devices/SPK-WEB-1/provision`, { method: 'POST' });
      expect(res.status).toBe(409);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe('insecure-broker');
      expect(body.error.message).toMatch(/^this broker runs with --insecure: .*start SPK-WEB-1 without credentials/);
    } finally {
      await open.close();
    }
  });
});

/**
 * The notification API's one error shape (broker/http/errors.ts, docs/API.md) holds for what
 * the framework refuses before a route runs — a path too long, a URL that is not valid, a body
 * too large, of another type or not JSON, a request that is not HTTP — and for the body keys
 * it refuses (`__proto__`, `constructor`). The backend's own identity is not a device, and a
 * malformed firmware release has one clear code.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { backendCredentials, tempDataDir } from './helpers.ts';

let broker: RunningBroker;
let api: string;
let token: string;

beforeAll(async () => {
  const dir = tempDataDir();
  broker = await startBroker({
    port: 0,
    wsPort: null,
    security: { mode: 'secure', dataDir: dir },
    service: { dataDir: dir, httpPort: 0 },
  });
  api = broker.service!.httpUrl!;
  token = backendCredentials(dir).password;
});

afterAll(() => broker.close());

interface Answer {
  status: number;
  json: any;
}

async function call(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<Answer> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && headers) },
    body,
  });
  return { status: res.status, json: await res.json() };
}

/** One request written as raw bytes: for what fetch would never send. */
function raw(request: string): Promise<{ status: number; json: any }> {
  const url = new URL(api);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(request));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head, body] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
      try {
        resolve({ status: Number(head.split(' ')[1]), json: JSON.parse(body) });
      } catch {
        reject(new Error(`not an API error: ${JSON.stringify(text)}`));
      }
    });
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

/** The API's shape: `{ error: { code, message[, field] } }` and nothing else. */
function expectApiError(answer: Answer, status: number, code: string, message: RegExp): void {
  expect(answer.status).toBe(status);
  expect(Object.keys(answer.json)).toEqual(['error']);
  expect(answer.json.error).toMatchObject({ code, message: expect.stringMatching(message) });
  expect(Object.keys(answer.json.error).sort()).toEqual(
    answer.json.error.field === undefined ? ['code', 'message'] : ['code', 'field', 'message'],
  );
}

const payment = { device: 'SPK-0001', amount: 100, currency: 'CNY', channel: 'wechat' };

describe("the framework's refusals, in the API's error shape", () => {
  it('a path parameter over 100 characters: 414 path-too-long', async () => {
    for (const path of [`/v1/devices/${'A'.repeat(200)}`, `/v1/payments/${'P'.repeat(300)}`]) {
      expectApiError(await call('GET', path), 414, 'path-too-long', /longer than 100 characters/);
    }
  });

  it('a URL that is not valid percent-encoding: 400 malformed-url', async () => {
    expectApiError(await call('GET', '/v1/devices/%E0%A4%A'), 400, 'malformed-url', /%25/);
  });

  it('a body of another type, too large, empty or not JSON: 415, 413 and 400 with what was wrong', async () => {
    expectApiError(
      await call('POST', '/v1/payments', '<payment/>', { 'content-type': 'application/xml' }),
      415,
      'unsupported-media-type',
      /Content-Type "application\/xml" is not accepted/,
    );
    expectApiError(
      await call('POST', '/v1/payments', 'amount=1', { 'content-type': 'text/plain' }),
      415,
      'unsupported-media-type',
      /"text\/plain" is not accepted/,
    );
    expectApiError(
      await call('POST', '/v1/payments', JSON.stringify({ ...payment, pad: 'x'.repeat(20_000) })),
      413,
      'body-too-large',
      /larger than 16384 bytes/,
    );
    expectApiError(await call('POST', '/v1/payments', ''), 400, 'malformed-json', /empty/);
    expectApiError(await call('POST', '/v1/payments', '{"device": 1,'), 400, 'malformed-json', /at position 13/);
  });

  it("what Node's HTTP parser refuses: 431 headers-too-large, 400 malformed-request", async () => {
    const big = await raw(`GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectApiError(big, 431, 'headers-too-large', /headers are larger than/);
    expectApiError(await raw('NOT HTTP AT ALL\r\n\r\n'), 400, 'malformed-request', /not valid HTTP\/1\.1/);
    const both = await raw(
      'POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    expectApiError(both, 400, 'malformed-request', /Content-Length or Transfer-Encoding/);
  });
});

describe('body keys that could tamper with prototypes', () => {
  it.each([
    ['__proto__', `{"device":"SPK-0001","amount":1,"currency":"CNY","channel":"wechat","__proto__":{"admin":true}}`],
    [
      'constructor',
      `{"device":"SPK-0001","amount":1,"currency":"CNY","channel":"wechat","constructor":{"prototype":{}}}`,
    ],
    ['__proto__', `{"device":"SPK-0001","nested":{"\\u005f_proto__":{"admin":true}}}`],
  ])('refuses a %s key by name (400 forbidden-key), not as "not valid JSON"', async (key, body) => {
    const answer = await call('POST', '/v1/payments', body);
    expectApiError(answer, 400, 'forbidden-key', new RegExp(`has a "${key}" key: keys named __proto__ or constructor`));
    expect(answer.json.error.message).not.toMatch(/not valid JSON/);
  });
});

describe("the backend's identity is not a device", () => {
  it('GET /v1/devices/backend is 404 unknown-device, as for any id that is not a device', async () => {
    for (const id of ['backend', 'BACKEND']) {
      const answer = await call('GET', `/v1/devices/${id}`);
      expectApiError(answer, 404, 'unknown-device', /the backend's own identity, not a device/);
    }
    expectApiError(await call('GET', '/v1/devices/SPK-NEVER'), 404, 'unknown-device', /not known/);
  });

  it('a payment to "backend" is 404 unknown-device', async () => {
    const answer = await call('POST', '/v1/payments', JSON.stringify({ ...payment, device: 'backend' }));
    expectApiError(answer, 404, 'unknown-device', /the backend's own identity, not a device/);
  });
});

describe('firmware uploads', () => {
  it('a release JSON that is not shaped like a release: 400 invalid-release (one prefix, like a wrong version)', async () => {
    const body = JSON.stringify({ version: '1.0.0', file: 'payspeaker-firmware-1.0.0.tar.gz' });
    for (const type of ['application/octet-stream', 'application/json']) {
      const answer = await call('PUT', '/v1/firmware/payspeaker-firmware-1.0.0.json', body, { 'content-type': type });
      expectApiError(answer, 400, 'invalid-release', /the release is not valid: "sha256"/);
    }
  });
});

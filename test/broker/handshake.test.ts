/**
 * Issue 12, items 2 and the network parts of 5 and 6, with real sockets on 127.0.0.1: a
 * connection that stalls in its TLS handshake (mqtts, wss) or never asks for the WebSocket
 * upgrade (ws, wss) is closed by the broker within the bound, while legitimate clients connect
 * and stay; a browser `Origin` not on the allow list gets 403, a missing one is accepted; and the
 * per-address rate limit refuses a flood of upgrade requests before any upgrade happens.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { createDevelopmentCerts, loadServerTls, tlsFiles } from '../../broker/tls.ts';
import { OriginPolicy, normalizeOrigin, ownHttpOrigins } from '../../broker/origins.ts';
import { connectOnce, endClient, tlsClientOptions } from '../../src/mqtt/connect.ts';
import type { Logger } from '../../src/log.ts';

const TIMEOUT_MS = 400;
/** How long a test waits for the broker to close a stalled socket: well under Node's own 60-120 s. */
const WITHIN_MS = 3_000;

function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const rec = (_o: unknown, msg?: string) => void lines.push(typeof _o === 'string' ? _o : (msg ?? ''));
  const log = { debug: () => {}, info: () => {}, warn: rec, error: rec, child: () => log } as unknown as Logger;
  return { log, lines };
}

const portOf = (url: string) => Number(new URL(url).port);

/**
 * Opens a TCP connection, writes `bytes` (if any) and resolves when the broker closes it, with
 * how long that took and what it sent back; `closedAfterMs` is null if it was still open after `ms`.
 */
function stall(
  port: number,
  bytes?: Buffer | string,
  ms = WITHIN_MS,
  enough?: (received: Buffer) => boolean,
): Promise<{ closedAfterMs: number | null; received: Buffer }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const t0 = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => {
      if (bytes !== undefined) socket.write(bytes);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: null, received: Buffer.concat(chunks) });
    }, ms);
    socket.on('data', (c) => {
      chunks.push(c);
      if (enough?.(Buffer.concat(chunks))) {
        clearTimeout(timer);
        resolve({ closedAfterMs: null, received: Buffer.concat(chunks) });
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - t0, received: Buffer.concat(chunks) });
    });
  });
}

/** The first bytes a real TLS client sends: a ClientHello, captured from a plain TCP server. */
async function clientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))),
  );
  const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  client.on('error', () => {});
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

function upgradeRequest(port: number, extra: Record<string, string> = {}): string {
  const headers = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Protocol': 'mqtt',
    ...extra,
  };
  return `GET /mqtt HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

/** The status line of the broker's answer to one upgrade request on a fresh connection, or '' if it closed without one. */
async function upgradeStatus(port: number, extra: Record<string, string> = {}): Promise<string> {
  const r = await stall(port, upgradeRequest(port, extra), 1_500, (got) => got.includes('\r\n'));
  return r.received.toString('latin1').split('\r\n')[0] ?? '';
}

let dir: string;
let ca: string;
let broker: RunningBroker;
const { log, lines } = captureLog();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-handshake-'));
  await createDevelopmentCerts(dir, { hosts: ['127.0.0.1', 'localhost'] });
  ca = fs.readFileSync(tlsFiles(dir).ca, 'utf8');
  const files = tlsFiles(dir);
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    wsPort: 0,
    log,
    handshakeTimeoutMs: TIMEOUT_MS,
    wsOrigins: ['https://console.example'],
    tls: { ...loadServerTls(files.cert, files.key), port: 0, wssPort: 0 },
  });
}, 30_000);

afterAll(async () => {
  await broker?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('stalled handshakes are closed within the bound', () => {
  it('mqtts: a socket that sends nothing, or half a ClientHello', async () => {
    const hello = await clientHello();
    const port = portOf(broker.mqttsUrl!);
    const [silent, half] = await Promise.all([stall(port), stall(port, hello.subarray(0, hello.length >> 1))]);
    for (const r of [silent, half]) {
      expect(r.closedAfterMs).not.toBeNull();
      expect(r.closedAfterMs!).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    }
    expect(lines.some((l) => /TLS handshake with 127\.0\.0\.1 failed/.test(l))).toBe(true);
  });

  it('wss: a socket that sends nothing, half a ClientHello, or finishes TLS but never upgrades', async () => {
    const hello = await clientHello();
    const port = portOf(broker.wssUrl!);
    const afterTls = new Promise<number | null>((resolve) => {
      const s = tls.connect({ port, host: '127.0.0.1', ca }, () => {
        const t0 = Date.now();
        const timer = setTimeout(() => (s.destroy(), resolve(null)), WITHIN_MS);
        s.on('close', () => (clearTimeout(timer), resolve(Date.now() - t0)));
      });
      s.on('error', () => {});
    });
    const [silent, half, upgradeless] = await Promise.all([
      stall(port),
      stall(port, hello.subarray(0, hello.length >> 1)),
      afterTls,
    ]);
    expect(silent.closedAfterMs).not.toBeNull();
    expect(half.closedAfterMs).not.toBeNull();
    expect(upgradeless).not.toBeNull();
  });

  it('ws: a socket that never sends the upgrade, or only half of it, and a plain HTTP request', async () => {
    const port = portOf(broker.wsUrl!);
    const [silent, half] = await Promise.all([
      stall(port),
      stall(port, upgradeRequest(port).slice(0, 40)), // headers never finished
    ]);
    for (const r of [silent, half]) {
      expect(r.closedAfterMs).not.toBeNull();
      expect(r.closedAfterMs!).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    }
    expect(
      lines.some((l) => /closed a WebSocket connection from 127\.0\.0\.1.*no upgrade request within 400 ms/.test(l)),
    ).toBe(true);
    const plain = await stall(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    expect(plain.received.toString()).toMatch(/^HTTP\/1\.1 426/);
    expect(plain.closedAfterMs).not.toBeNull();
  });

  it('legitimate clients connect on every listener and stay connected past the bound', async () => {
    const clients = await Promise.all(
      [broker.mqttUrl, broker.wsUrl!, broker.mqttsUrl!, broker.wssUrl!].map((url, i) =>
        connectOnce(url, { clientId: `legit-${i}`, ...tlsClientOptions(url, ca) }),
      ),
    );
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 3));
    for (const [i, c] of clients.entries()) {
      expect(c.connected).toBe(true);
      await c.publishAsync(`t/legit/${i}`, 'still here', { qos: 1 });
    }
    await Promise.all(clients.map(endClient));
  });
});

describe('the WebSocket Origin policy', () => {
  it('refuses a cross-origin browser page with 403 on ws and wss, and logs it', async () => {
    expect(await upgradeStatus(portOf(broker.wsUrl!), { Origin: 'https://evil.example' })).toBe(
      'HTTP/1.1 403 Forbidden',
    );
    expect(
      lines.some((l) =>
        /refused a WebSocket upgrade from 127\.0\.0\.1.*https:\/\/evil\.example.*--ws-origin https:\/\/evil\.example/.test(
          l,
        ),
      ),
    ).toBe(true);
    // A real browser-like client (ws sends the Origin it is given), over TLS.
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(broker.wssUrl!, 'mqtt', { origin: 'http://localhost:1234', ca });
      ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      ws.on('open', () => (ws.close(), resolve('open')));
      ws.on('error', (e) => resolve(e.message));
    });
    expect(refused).toBe('403');
    expect(await upgradeStatus(portOf(broker.wsUrl!), { Origin: 'null' })).toBe('HTTP/1.1 403 Forbidden');
  });

  it('accepts a client without Origin (every non-browser client), and a configured origin', async () => {
    const port = portOf(broker.wsUrl!);
    expect(await upgradeStatus(port)).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await upgradeStatus(port, { Origin: 'https://console.example' })).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await upgradeStatus(port, { Origin: 'HTTPS://Console.Example:443' })).toBe(
      'HTTP/1.1 101 Switching Protocols',
    );
    expect(await upgradeStatus(port, { Origin: 'https://console.example:8443' })).toBe('HTTP/1.1 403 Forbidden');
  });

  it("allows the broker's own HTTP API origin (where a web console will be served), as 127.0.0.1 and localhost", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-origin-api-'));
    const b = await startBroker({ port: 0, wsPort: 0, service: { dataDir, httpPort: 0 } });
    try {
      const api = new URL(b.service!.httpUrl!);
      const port = portOf(b.wsUrl!);
      expect(await upgradeStatus(port, { Origin: `http://127.0.0.1:${api.port}` })).toBe(
        'HTTP/1.1 101 Switching Protocols',
      );
      expect(await upgradeStatus(port, { Origin: `http://localhost:${api.port}` })).toBe(
        'HTTP/1.1 101 Switching Protocols',
      );
      expect(await upgradeStatus(port, { Origin: `http://127.0.0.1:${Number(api.port) + 1}` })).toBe(
        'HTTP/1.1 403 Forbidden',
      );
    } finally {
      await b.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('normalizes and validates configured origins; * allows any', () => {
    expect(normalizeOrigin('HTTP://Example.COM:80/')).toBe('http://example.com');
    expect(normalizeOrigin('https://[::1]:8443')).toBe('https://[::1]:8443');
    expect(() => normalizeOrigin('example.com')).toThrow(/not an origin/);
    expect(() => normalizeOrigin('ws://example.com')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => normalizeOrigin('https://example.com/console')).toThrow(/without a path/);
    const p = new OriginPolicy(['http://a.example']);
    expect(p.check(undefined)).toEqual({ ok: true });
    expect(p.check('http://a.example')).toEqual({ ok: true });
    expect(p.check('http://b.example')).toEqual({ ok: false, origin: 'http://b.example' });
    expect(p.check('garbage')).toEqual({ ok: false, origin: 'garbage' });
    expect(new OriginPolicy(['*']).check('http://b.example')).toEqual({ ok: true });
    expect(ownHttpOrigins('http://127.0.0.1:8081')).toEqual(['http://127.0.0.1:8081', 'http://localhost:8081']);
    expect(ownHttpOrigins('http://0.0.0.0:8081')).toEqual([]);
  });
});

describe('the connection-rate limit on WebSocket listeners', () => {
  it('refuses a flood of upgrade requests at TCP accept, before any upgrade, while an open session carries on', async () => {
    const { log: rateLog, lines: rateLines } = captureLog();
    const b = await startBroker({
      port: 0,
      wsPort: 0,
      log: rateLog,
      limits: { connectRate: { perSecond: 1, burst: 3 } },
    });
    try {
      const kept = await connectOnce(b.wsUrl!, { clientId: 'ws-kept' }); // takes one token
      const port = portOf(b.wsUrl!);
      const results = await Promise.all(Array.from({ length: 20 }, () => stall(port, upgradeRequest(port), 1_500)));
      const upgraded = results.filter((r) => r.received.toString('latin1').startsWith('HTTP/1.1 101')).length;
      const refusedCold = results.filter((r) => r.closedAfterMs !== null && r.received.length === 0).length;
      expect(upgraded).toBeLessThanOrEqual(2);
      expect(refusedCold).toBeGreaterThanOrEqual(18);
      expect(rateLines.some((l) => /connection attempt\(s\) from 127\.0\.0\.1/.test(l))).toBe(true);
      await kept.publishAsync('t/ws', 'still here', { qos: 1 });
      await endClient(kept);
    } finally {
      await b.close();
    }
  });
});

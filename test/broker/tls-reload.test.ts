/**
 * Issue 12, items 5 and 6 on the real `payspeaker broker` process: `--tls-only` opens no plain
 * listener and says so, and is refused without `--tls`; SIGHUP reloads the certificate (the one
 * served on mqtts and wss changes, established connections stay, a bad new one is refused and
 * the old one kept); `--ws-origin` is applied and checked.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDevelopmentCerts, loadServerTls, tlsFiles } from '../../broker/tls.ts';
import { startBroker } from '../../broker/broker.ts';
import { connectOnce, endClient, tlsClientOptions } from '../../src/mqtt/connect.ts';
import { CliProcess, runCli } from '../support/cli.ts';

let dir: string;
let otherDir: string;
const HOSTS = ['127.0.0.1', 'localhost'];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-reload-'));
  otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-reload-other-'));
  await createDevelopmentCerts(dir, { hosts: HOSTS });
  await createDevelopmentCerts(otherDir, { hosts: HOSTS });
}, 30_000);

afterAll(() => {
  for (const d of [dir, otherDir]) fs.rmSync(d, { recursive: true, force: true });
});

const ca = () => fs.readFileSync(tlsFiles(dir).ca, 'utf8');
const fileFingerprint = () => new X509Certificate(fs.readFileSync(tlsFiles(dir).cert, 'utf8')).fingerprint256;

/** The SHA-256 fingerprint of the certificate a TLS port serves to a new connection. */
function servedFingerprint(url: string, caFile?: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const trusted = caFile ? fs.readFileSync(caFile, 'utf8') : ca();
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: hostname, port: Number(port), ca: trusted }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.destroy();
    });
    s.on('error', reject);
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(true));
  });
}

describe('broker --tls --tls-only, and SIGHUP', () => {
  let cli: CliProcess;
  let listening: { mqtt: string | null; ws: string | null; mqtts: string; wss: string; tlsOnly: boolean };
  let plainPort: number;
  let wsPort: number;

  beforeAll(async () => {
    plainPort = await freePort();
    wsPort = await freePort();
    // Each event is awaited once: the process prints tls-reloaded / tls-reload-refused per SIGHUP.
    cli = new CliProcess([
      'broker',
      '--insecure',
      '--port',
      String(plainPort),
      '--ws-port',
      String(wsPort),
      '--tls',
      '--tls-only',
      '--tls-port',
      '0',
      '--wss-port',
      '0',
      '--ws-origin',
      'https://console.example',
      '--data',
      dir,
      '--json',
    ]);
    listening = await cli.waitForEvent((e) => e.event === 'listening');
  }, 30_000);

  afterAll(async () => {
    expect(await cli?.stop()).toBe(0);
  });

  it('opens only mqtts and wss', async () => {
    expect(listening).toMatchObject({ mqtt: null, ws: null, tlsOnly: true });
    expect(listening.mqtts).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.wss).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    expect(await refusesConnections(plainPort)).toBe(true);
    expect(await refusesConnections(wsPort)).toBe(true);
    const c = await connectOnce(listening.mqtts, { clientId: 'tls-only', ...tlsClientOptions(listening.mqtts, ca()) });
    await endClient(c);
  });

  it('applies --ws-origin on wss: the configured page may connect, another gets 403', async () => {
    const tryOrigin = (origin: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(listening.wss, 'mqtt', { origin, ca: ca() });
        ws.on('unexpected-response', (_req, res) => (resolve(String(res.statusCode)), ws.terminate()));
        ws.on('open', () => (ws.terminate(), resolve('open')));
        ws.on('error', (e) => resolve(e.message));
      });
    expect(await tryOrigin('https://console.example')).toBe('open');
    expect(await tryOrigin('https://evil.example')).toBe('403');
  });

  it('SIGHUP serves a renewed certificate to new connections on mqtts and wss; established ones stay', async () => {
    const before = fileFingerprint();
    expect(await servedFingerprint(listening.mqtts)).toBe(before);
    expect(await servedFingerprint(listening.wss)).toBe(before);
    const kept = await connectOnce(listening.mqtts, { clientId: 'kept', ...tlsClientOptions(listening.mqtts, ca()) });
    await createDevelopmentCerts(dir, { hosts: HOSTS, force: true }); // same CA, new certificate and key
    const after = fileFingerprint();
    expect(after).not.toBe(before);
    cli.child.kill('SIGHUP');
    const event = await cli.waitForEvent<{ fingerprint256: string }>((e) => e.event === 'tls-reloaded');
    expect(event.fingerprint256).toBe(after);
    expect(await servedFingerprint(listening.mqtts)).toBe(after);
    expect(await servedFingerprint(listening.wss)).toBe(after);
    expect(kept.connected).toBe(true);
    await kept.publishAsync('t/kept', 'still here', { qos: 1 });
    await endClient(kept);
    const fresh = await connectOnce(listening.wss, { clientId: 'fresh', ...tlsClientOptions(listening.wss, ca()) });
    await endClient(fresh);
    expect(cli.stderr).toMatch(/SIGHUP: reloaded the TLS certificate .*server\.pem/);
  });

  it('SIGHUP with a bad new certificate keeps the old one, with a log line', async () => {
    const current = fileFingerprint();
    // Another CA's certificate: it does not belong to the key in server-key.pem.
    fs.copyFileSync(tlsFiles(otherDir).cert, tlsFiles(dir).cert);
    cli.child.kill('SIGHUP');
    const event = await cli.waitForEvent<{ error: string }>((e) => e.event === 'tls-reload-refused');
    expect(event.error).toMatch(/is not the key of/);
    expect(cli.stderr).toMatch(/SIGHUP: kept the old TLS certificate, the new one was refused/);
    expect(await servedFingerprint(listening.mqtts)).toBe(current);
    expect(await servedFingerprint(listening.wss)).toBe(current);
    const c = await connectOnce(listening.mqtts, { clientId: 'after-bad', ...tlsClientOptions(listening.mqtts, ca()) });
    await endClient(c);
  });
});

describe('startBroker().reloadTls', () => {
  it('refuses an unusable pair before touching any listener, and a broker without TLS', async () => {
    // otherDir's pair: the SIGHUP tests above spoil dir's server.pem.
    const good = loadServerTls(tlsFiles(otherDir).cert, tlsFiles(otherDir).key);
    const b = await startBroker({ port: 0, wsPort: null, tls: { ...good, port: 0, wssPort: 0 } });
    const plain = await startBroker({ port: 0, wsPort: null });
    try {
      const served = await servedFingerprint(b.mqttsUrl!, tlsFiles(otherDir).ca);
      const strayKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      expect(() => b.reloadTls({ cert: good.cert, key: strayKey })).toThrow(/key values mismatch/);
      expect(() => b.reloadTls({ cert: 'garbage', key: good.key })).toThrow();
      expect(await servedFingerprint(b.mqttsUrl!, tlsFiles(otherDir).ca)).toBe(served);
      expect(await servedFingerprint(b.wssUrl!, tlsFiles(otherDir).ca)).toBe(served);
      expect(() => plain.reloadTls(good)).toThrow(/no TLS listener/);
      await expect(startBroker({ port: 0, tlsOnly: true })).rejects.toThrow(/tlsOnly needs tls/);
    } finally {
      await Promise.all([b.close(), plain.close()]);
    }
  });
});

describe('wsOrigins in the settings file', () => {
  const tryOrigin = (url: string, origin: string) =>
    new Promise<string>((resolve) => {
      const ws = new WebSocket(url, 'mqtt', { origin });
      ws.on('unexpected-response', (_req, res) => (resolve(String(res.statusCode)), ws.terminate()));
      ws.on('open', () => (ws.terminate(), resolve('open')));
      ws.on('error', (e) => resolve(e.message));
    });

  it('allows its origins; --ws-origin replaces them', async () => {
    const settings = path.join(dir, 'settings.json');
    fs.writeFileSync(settings, JSON.stringify({ wsOrigins: ['https://from-settings.example'] }));
    for (const [extra, allowed, refused] of [
      [[], 'https://from-settings.example', 'https://flag.example'],
      [['--ws-origin', 'https://flag.example'], 'https://flag.example', 'https://from-settings.example'],
    ] as const) {
      const p = new CliProcess([
        'broker',
        '--insecure',
        '--port',
        '0',
        '--ws-port',
        '0',
        '--settings',
        settings,
        '--data',
        dir,
        '--json',
        ...extra,
      ]);
      try {
        const { ws } = await p.waitForEvent<{ ws: string }>((e) => e.event === 'listening');
        expect(await tryOrigin(ws, allowed)).toBe('open');
        expect(await tryOrigin(ws, refused)).toBe('403');
      } finally {
        expect(await p.stop()).toBe(0);
      }
    }
  });
});

describe('broker options, refused with a clear error', () => {
  it('--tls-only without --tls names the fix', async () => {
    const r = await runCli(['broker', '--insecure', '--port', '0', '--no-ws-port', '--tls-only', '--data', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tls-only needs --tls: add --tls/);
  });

  it('--ws-origin and PAYSPEAKER_WS_ORIGIN take origins only', async () => {
    const r = await runCli(['broker', '--insecure', '--port', '0', '--ws-origin', 'console.example', '--data', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ws-origin: "console\.example" is not an origin: give scheme:\/\/host\[:port\]/);
    const e = await runCli(['broker', '--insecure', '--port', '0', '--data', dir], {
      env: { PAYSPEAKER_WS_ORIGIN: 'https://ok.example,ws://bad.example' },
    });
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/must start with http:\/\/ or https:\/\//);
  });

  it('the startup line says when only TLS listeners are open', async () => {
    // server.pem was spoilt by the SIGHUP test: make a good pair again.
    await createDevelopmentCerts(dir, { hosts: HOSTS, force: true });
    const p = new CliProcess([
      'broker',
      '--insecure',
      '--tls',
      '--tls-only',
      '--tls-port',
      '0',
      '--wss-port',
      '0',
      '--data',
      dir,
    ]);
    try {
      const line = await p.waitForLine(/broker listening on/);
      expect(line).toMatch(
        /^broker listening on mqtts:\/\/127\.0\.0\.1:\d+ and wss:\/\/127\.0\.0\.1:\d+\/mqtt \(TLS only: no plain MQTT or WebSocket listener\)/,
      );
    } finally {
      // At once after the line: the broker arms its signal handlers before printing it.
      expect(await p.stop()).toBe(0);
    }
  });
});

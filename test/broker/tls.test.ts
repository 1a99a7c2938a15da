/**
 * TLS (issue 4, item 5), for real on 127.0.0.1: `certs` makes a CA and a broker certificate with
 * the right subjectAltNames; a client that trusts the CA connects over mqtts:// and wss://; one
 * that trusts another CA, or dials a name the certificate does not carry, is refused with a
 * message that says so; and the CLI path — `broker --tls`, `provision` (the config carries the
 * CA), `device --config`, `pay --broker mqtts://` — works end to end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { createDevelopmentCerts, loadServerTls, subjectAltNames, tlsFiles } from '../../broker/tls.ts';
import { certsCommand } from '../../tools/cli/commands/certs.ts';
import {
  BrokerCertificateError,
  BrokerUnreachableError,
  connectOnce,
  endClient,
  tlsClientOptions,
} from '../../src/mqtt/connect.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import type { CliContext } from '../../tools/cli/context.ts';

let dir: string;
let otherDir: string;
let broker: RunningBroker;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-'));
  otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-other-'));
  await createDevelopmentCerts(dir, { hosts: ['127.0.0.1', 'localhost'] });
  await createDevelopmentCerts(otherDir, { hosts: ['127.0.0.1', 'localhost'] });
  const files = tlsFiles(dir);
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    wsPort: null,
    tls: { ...loadServerTls(files.cert, files.key), port: 0, wssPort: 0 },
  });
}, 30_000);

afterAll(async () => {
  await broker?.close();
  for (const d of [dir, otherDir]) fs.rmSync(d, { recursive: true, force: true });
});

const ca = (d: string) => fs.readFileSync(tlsFiles(d).ca, 'utf8');

describe('payspeaker certs', () => {
  it('makes a CA and a server certificate it signs, naming the hosts as IP and DNS subjectAltNames, keys 0600', () => {
    const files = tlsFiles(dir);
    const caCert = new X509Certificate(ca(dir));
    const server = new X509Certificate(fs.readFileSync(files.cert, 'utf8'));
    expect(caCert.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(caCert)).toBe(true);
    expect(server.verify(caCert.publicKey)).toBe(true);
    expect(server.verify(new X509Certificate(ca(otherDir)).publicKey)).toBe(false);
    expect(subjectAltNames(fs.readFileSync(files.cert, 'utf8'))).toEqual(['IP:127.0.0.1', 'DNS:localhost']);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('example.com')).toBeUndefined();
    for (const key of [files.caKey, files.key]) expect(fs.statSync(key).mode & 0o777).toBe(0o600);
  });

  it('the command: refuses to overwrite without --force; --force keeps the CA; --host is repeatable', async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-cmd-'));
    const lines: string[] = [];
    const ctx = { settings: {}, configFile: null, print: (l: string) => lines.push(l) } as unknown as CliContext;
    const run = (...args: string[]) =>
      certsCommand(ctx)
        .exitOverride()
        .parseAsync(['node', 'certs', '--data', d, ...args]);
    try {
      await run('--host', '127.0.0.1', '--host', 'broker.local', '--host', '::1', '--json');
      const first = JSON.parse(lines.at(-1)!) as { subjectAltNames: string[]; createdCa: boolean };
      expect(first).toMatchObject({
        createdCa: true,
        subjectAltNames: ['IP:127.0.0.1', 'DNS:broker.local', 'IP:0:0:0:0:0:0:0:1'],
      });
      const caBefore = ca(d);
      await expect(run()).rejects.toThrow(/already exists: pass --force/);
      await run('--force', '--host', '10.0.0.7', '--json');
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ createdCa: false, subjectAltNames: ['IP:10.0.0.7'] });
      expect(ca(d)).toBe(caBefore);
      await run('--new-ca', '--json');
      expect(ca(d)).not.toBe(caBefore);
      await expect(run('--force', '--host', 'not a host')).rejects.toThrow(/neither an IP address nor a DNS name/);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('a broker with --tls', () => {
  it('accepts a client that trusts its CA over mqtts:// and over wss://', async () => {
    expect(broker.mqttsUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(broker.wssUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    for (const url of [broker.mqttsUrl!, broker.wssUrl!]) {
      const client = await connectOnce(url, {
        clientId: `tls-ok-${url.slice(0, 4)}`,
        ...tlsClientOptions(url, ca(dir)),
      });
      await client.subscribeAsync('t/tls', { qos: 1 });
      const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
      await client.publishAsync('t/tls', 'over tls', { qos: 1 });
      expect(await got).toBe('over tls');
      await endClient(client);
    }
  });

  it('also by host name (SNI), when the certificate names it', async () => {
    const url = broker.mqttsUrl!.replace('127.0.0.1', 'localhost');
    expect(tlsClientOptions(url, ca(dir))).toMatchObject({ servername: 'localhost', rejectUnauthorized: true });
    await endClient(await connectOnce(url, { clientId: 'tls-sni', ...tlsClientOptions(url, ca(dir)) }));
  });

  it('is refused, with a clear message, by a client that trusts another CA (mqtts and wss)', async () => {
    const caFile = tlsFiles(otherDir).ca;
    for (const url of [broker.mqttsUrl!, broker.wssUrl!]) {
      const err = await connectOnce(
        url,
        { clientId: 'tls-wrong-ca', ...tlsClientOptions(url, ca(otherDir)) },
        5000,
        caFile,
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BrokerCertificateError);
      expect((err as Error).message).toContain(
        `the broker's certificate at ${url} is not signed by the CA in ${caFile}`,
      );
      expect((err as BrokerCertificateError).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
  });

  it('is refused by a client that trusts only the system CAs', async () => {
    const err = await connectOnce(broker.mqttsUrl!, {
      clientId: 'tls-system',
      ...tlsClientOptions(broker.mqttsUrl!, null),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerCertificateError);
    expect((err as Error).message).toMatch(/is not signed by the system's trusted CAs/);
  });

  it('is refused when the client dials a host name the certificate does not carry', async () => {
    const certs = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-name-'));
    try {
      await createDevelopmentCerts(certs, { hosts: ['broker.example'] });
      const files = tlsFiles(certs);
      const b = await startBroker({
        port: 0,
        wsPort: null,
        tls: { ...loadServerTls(files.cert, files.key), port: 0, wssPort: null },
      });
      try {
        const url = b.mqttsUrl!;
        const err = await connectOnce(
          url,
          { clientId: 'tls-name', ...tlsClientOptions(url, ca(certs)) },
          5000,
          files.ca,
        ).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BrokerCertificateError);
        expect((err as Error).message).toMatch(
          /is not valid for the host this client dialled .*broker\.example.*certs --host HOST --force/,
        );
        expect((err as BrokerCertificateError).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
      } finally {
        await b.close();
      }
    } finally {
      fs.rmSync(certs, { recursive: true, force: true });
    }
  });

  it('says "is it a TLS port?" when mqtts:// dials the plain MQTT port', async () => {
    const url = broker.mqttUrl.replace('mqtt://', 'mqtts://');
    const err = await connectOnce(url, { clientId: 'tls-plain', ...tlsClientOptions(url, ca(dir)) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BrokerUnreachableError);
    expect((err as Error).message).toMatch(/is .* a TLS port\?/);
  });

  it('keeps plain mqtt:// working alongside', async () => {
    await endClient(await connectOnce(broker.mqttUrl, { clientId: 'plain' }));
  });
});

describe('the CLI over TLS: broker --tls, provision, device --config, pay --broker mqtts://', () => {
  const DEVICE = 'SPK-TLS';
  let cli: CliProcess;
  let device: CliProcess;
  let mqtts: string;

  beforeAll(async () => {
    cli = new CliProcess([
      'broker',
      '--port',
      '0',
      '--no-ws-port',
      '--tls',
      '--tls-port',
      '0',
      '--wss-port',
      '0',
      '--data',
      dir,
      '--json',
    ]);
    const listening = await cli.waitForEvent<{ mqtts: string; wss: string; ca: string }>(
      (e) => e.event === 'listening',
    );
    expect(listening.ca).toBe(tlsFiles(dir).ca);
    expect(listening.wss).toMatch(/^wss:/);
    mqtts = listening.mqtts;
    const config = path.join(dir, `${DEVICE}.json`);
    const provisioned = await runCli(['provision', DEVICE, '--data', dir, '--broker', mqtts, '--out', config]);
    expect(provisioned.code, provisioned.stderr).toBe(0);
    expect(provisioned.stdout).toMatch(/trusts the broker certificate signed by/);
    expect(JSON.parse(fs.readFileSync(config, 'utf8'))).toMatchObject({ broker: mqtts, ca: ca(dir) });
    device = new CliProcess(['device', '--config', config, '--audio', `file:${dir}/wav`, '--json']);
    await device.waitForEvent((e) => e.event === 'online');
  }, 60_000);

  afterAll(async () => {
    expect(await device?.stop()).toBe(0);
    expect(await cli?.stop()).toBe(0);
  });

  it('pay trusts DIR/certs/ca.pem by default, or the CA given with --ca', async () => {
    for (const extra of [[], ['--ca', tlsFiles(dir).ca]]) {
      const r = await runCli([
        'pay',
        '--direct',
        '1.50',
        '--device',
        DEVICE,
        '--broker',
        mqtts,
        '--data',
        dir,
        '--json',
        ...extra,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: 'played', device: DEVICE });
    }
  });

  it('pay with another CA is refused with a clear message and exit code 5', async () => {
    const r = await runCli([
      'pay',
      '--direct',
      '1.50',
      '--device',
      DEVICE,
      '--broker',
      mqtts,
      '--data',
      dir,
      '--ca',
      tlsFiles(otherDir).ca,
    ]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(
      `the broker's certificate at ${mqtts} is not signed by the CA in ${tlsFiles(otherDir).ca}`,
    );
  });

  it('broker --tls without certificates says how to make them', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-tls-none-'));
    try {
      const r = await runCli(['broker', '--port', '0', '--no-ws-port', '--tls', '--tls-port', '0', '--data', empty]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /cannot read the broker's TLS certificate .*server\.pem \(no such file\): make one with "npx payspeaker certs"/,
      );
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

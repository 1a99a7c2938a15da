/**
 * The broker's firmware folder over HTTP (broker/http/images.ts), on a real secure broker with
 * its HTTP server on port 0: uploads need the backend's token and a release that verifies
 * against its tarball; downloads are open, with content-length, and cannot name any other file.
 */
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { loadBackendPrivateKey } from '../../broker/backend-keys.ts';
import { readBackendCredentials } from '../../broker/credentials.ts';
import { brokerDir } from '../../broker/data-dir.ts';
import { defaultFirmwareDir } from '../../broker/service.ts';
import { ApiRequestError, NotificationApi } from '../../tools/api/client.ts';
import { releaseFileName, signRelease, tarballName, type Release } from '../../src/firmware/image.ts';
import { createHash } from 'node:crypto';

let dir: string;
let broker: RunningBroker;
let url: string;
let api: NotificationApi;
const tarball = Buffer.from('not really gzip, but the broker only stores and checks bytes\n'.repeat(100));

function release(version: string, bytes: Buffer, key = loadBackendPrivateKey(brokerDir(dir))!): Release {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { version, file: tarballName(version), sha256, size: bytes.length, signature: signRelease(version, sha256, key) };
}

/** A raw GET, path as written (fetch would normalise "../"). */
function rawGet(p: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}${p}`, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

async function refusal(p: Promise<unknown>): Promise<ApiRequestError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiRequestError);
  return err as ApiRequestError;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-ota-broker-'));
  broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null, security: { mode: 'secure', dataDir: dir }, service: { dataDir: dir, httpPort: 0 } });
  url = broker.service!.httpUrl!;
  api = new NotificationApi(url, readBackendCredentials(dir)!.password);
  fs.writeFileSync(path.join(brokerDir(dir), 'secret.txt'), 'do not serve me');
});

afterAll(async () => {
  await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('firmware releases on the broker', () => {
  it('accepts an upload from the backend and serves it to anyone, with content-length', async () => {
    const r = release('1.0.0', tarball);
    await api.uploadFirmware(r.file, tarball);
    await api.uploadFirmware(releaseFileName('1.0.0'), Buffer.from(JSON.stringify(r)));
    const got = await rawGet(`/v1/firmware/${r.file}`);
    expect(got.status).toBe(200);
    expect(got.headers['content-length']).toBe(String(tarball.length));
    expect(got.headers['content-type']).toBe('application/gzip');
    expect(got.body.equals(tarball)).toBe(true);
    const json = await rawGet(`/v1/firmware/${releaseFileName('1.0.0')}`);
    expect(JSON.parse(json.body.toString())).toEqual(r);
    expect(fs.readdirSync(defaultFirmwareDir(dir)).sort()).toEqual([releaseFileName('1.0.0'), r.file].sort());
  });

  it('never changes a released tarball: other bytes are refused (409), the same bytes again are fine', async () => {
    const r = release('1.5.0', tarball);
    await api.uploadFirmware(r.file, tarball);
    await api.uploadFirmware(releaseFileName('1.5.0'), Buffer.from(JSON.stringify(r)));
    const err = await refusal(api.uploadFirmware(r.file, Buffer.from('a different build under the same version')));
    expect(err).toMatchObject({ status: 409, code: 'release-exists' });
    expect(err.message).toMatch(/version 1.5.0 is already released with other bytes.*new --image-version/);
    expect((await rawGet(`/v1/firmware/${r.file}`)).body.equals(tarball)).toBe(true);
    await api.uploadFirmware(r.file, tarball); // a retried upload of the release itself
    expect(fs.readdirSync(defaultFirmwareDir(dir)).filter((f) => f.endsWith('.upload'))).toEqual([]);
  });

  it('refuses uploads without the backend token (401) and changes nothing', async () => {
    for (const token of [null, 'wrong-token']) {
      const err = await refusal(new NotificationApi(url, token).uploadFirmware(tarballName('6.6.6'), tarball));
      expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
    }
    expect(fs.existsSync(path.join(defaultFirmwareDir(dir), tarballName('6.6.6')))).toBe(false);
  });

  it('keeps a release JSON only when its tarball is there and both verify with the backend key', async () => {
    const lonely = release('2.0.0', tarball);
    let err = await refusal(api.uploadFirmware(releaseFileName('2.0.0'), Buffer.from(JSON.stringify(lonely))));
    expect(err).toMatchObject({ status: 422, code: 'release-file-missing' });
    expect(err.message).toMatch(/upload payspeaker-firmware-2.0.0.tar.gz first/);

    await api.uploadFirmware(tarballName('2.0.0'), tarball);
    const { privateKey: otherKey } = generateKeyPairSync('ed25519');
    err = await refusal(api.uploadFirmware(releaseFileName('2.0.0'), Buffer.from(JSON.stringify(release('2.0.0', tarball, otherKey)))));
    expect(err).toMatchObject({ status: 422, code: 'release-signature-invalid' });
    err = await refusal(api.uploadFirmware(releaseFileName('2.0.0'), Buffer.from(JSON.stringify(release('2.0.0', Buffer.from('other bytes'))))));
    expect(err).toMatchObject({ status: 422, code: 'release-size-mismatch' });
    err = await refusal(api.uploadFirmware(releaseFileName('2.0.0'), Buffer.from(JSON.stringify(release('2.0.1', tarball)))));
    expect(err).toMatchObject({ status: 400, code: 'invalid-release' });
    expect(err.message).toMatch(/the release's version "2.0.1" does not match the file name payspeaker-firmware-2.0.0.json/);
    err = await refusal(api.uploadFirmware(releaseFileName('2.0.0'), Buffer.from('{not json')));
    expect(err).toMatchObject({ status: 400, code: 'malformed-json' });
    expect(fs.existsSync(path.join(defaultFirmwareDir(dir), releaseFileName('2.0.0')))).toBe(false);
  });

  it('serves release files only: no path traversal, no other names', async () => {
    for (const p of [
      '/v1/firmware/..%2Fsecret.txt',
      '/v1/firmware/..%2F..%2Fbroker%2Fbackend.json',
      '/v1/firmware/payspeaker-firmware-..%2F..%2Fsecret.txt.json',
      '/v1/firmware/secret.txt',
      '/v1/firmware/payspeaker-firmware-1.0.0.tar.gz.upload',
    ]) {
      const got = await rawGet(p);
      expect(got.status, p).toBe(404);
      expect(got.body.toString()).not.toContain('do not serve me');
      expect(JSON.parse(got.body.toString()).error.code).toBe('not-found');
    }
    const raw = await rawGet('/v1/firmware/../broker/secret.txt');
    expect(raw.status).toBe(404);
    expect(raw.body.toString()).not.toContain('do not serve me');
    const missing = await rawGet(`/v1/firmware/${tarballName('9.9.9')}`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).error.message).toMatch(/no firmware file payspeaker-firmware-9.9.9.tar.gz on this broker: upload the release with "npx payspeaker ota"/);
  });

  it('the payments API still refuses non-JSON bodies (the raw upload parser stays on /v1/firmware)', async () => {
    const res = await fetch(`${url}/v1/payments`, { method: 'POST', headers: { authorization: `Bearer ${readBackendCredentials(dir)!.password}`, 'content-type': 'application/octet-stream' }, body: 'x' });
    expect(res.status).toBe(415);
  });
});

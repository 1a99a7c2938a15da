/**
 * GET /v1/voices/:lang and /v1/voices/:lang/clips/:name on a real secure broker: the pack is
 * recorded once on first request (however many ask at once), it is the pack the Node clip
 * voice uses, every clip's bytes hash to the manifest's sha256, caching headers hold, and no
 * spelling of `..` reaches a file.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { VoicePackSource } from '../../broker/http/voices.ts';
import { createEspeakEngine, espeakInstalled } from '../../src/audio/tts/espeak.ts';
import { silentLogger } from '../../src/log.ts';
import { cachedPackDir, loadVoicePack, type Manifest } from '../../src/voice/index.ts';
import { captureLog, ESPEAK_MISSING } from '../voice/helpers.ts';
import { backendCredentials, tempDataDir } from './helpers.ts';

let broker: RunningBroker;
let api: string;
let token: string;
let cacheDir: string;
const log = captureLog();

const get = (url: string, headers: Record<string, string> = {}, auth = true) =>
  fetch(`${api}${url}`, { headers: { ...(auth && { authorization: `Bearer ${token}` }), ...headers } });

/** The path exactly as written: fetch() would resolve the dot segments before sending. */
function rawGet(pathname: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(api);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, path: pathname, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.setEncoding('latin1').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject).end();
  });
}

describe.skipIf(!espeakInstalled())(`voice packs over HTTP (skipped if ${ESPEAK_MISSING})`, () => {
  beforeAll(async () => {
    // A cache of its own, so the first request really records the pack here.
    cacheDir = tempDataDir();
    process.env.PAYSPEAKER_VOICEPACK_DIR = cacheDir;
    const dataDir = tempDataDir();
    broker = await startBroker({
      port: 0,
      wsPort: null,
      log: log.log,
      security: { mode: 'secure', dataDir },
      service: { dataDir, httpPort: 0 },
    });
    api = broker.service!.httpUrl!;
    token = backendCredentials(dataDir).password;
    fs.writeFileSync(path.join(cacheDir, 'secret.wav'), 'not a clip');
  });

  afterAll(async () => {
    await broker?.close();
  });

  let manifest: Manifest;

  it('records the pack once for concurrent first requests, and serves the Node clip voice its very pack', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => get('/v1/voices/en-US')));
    const bodies = await Promise.all(answers.map((r) => r.text()));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(new Set(bodies).size).toBe(1);
    const recorded = log.lines.filter(
      (l) => l.msg === 'recording the en-US voice pack with espeak-ng (first use only)',
    );
    expect(recorded).toHaveLength(1);
    expect(answers[0]!.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answers[0]!.headers.get('cache-control')).toBe('no-cache');
    manifest = JSON.parse(bodies[0]!) as Manifest;
    expect(manifest).toMatchObject({
      format: 1,
      language: 'en-US',
      engine: 'espeak-ng',
      sampleRate: expect.any(Number),
    });
    const onDisk = await loadVoicePack(cachedPackDir(cacheDir, 'en-US', createEspeakEngine()));
    expect(manifest).toEqual(onDisk.manifest);
  }, 60_000);

  it('serves every clip with exactly the bytes its sha256 names, as audio/wav', async () => {
    const entries = Object.values(manifest.clips);
    expect(entries.length).toBeGreaterThan(10);
    for (const entry of entries) {
      const r = await get(`/v1/voices/en-US/clips/${entry.file}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('audio/wav');
      expect(r.headers.get('etag')).toBe(`"${entry.sha256}"`);
      expect(r.headers.get('cache-control')).toBe('no-cache');
      const bytes = Buffer.from(await r.arrayBuffer());
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('RIFF');
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
    }
  });

  it('by sha256 the clip is immutable; If-None-Match answers 304', async () => {
    const entry = Object.values(manifest.clips)[0]!;
    const r = await get(`/v1/voices/en-US/clips/${entry.sha256}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(
      createHash('sha256')
        .update(Buffer.from(await r.arrayBuffer()))
        .digest('hex'),
    ).toBe(entry.sha256);
    const again = await get(`/v1/voices/en-US/clips/${entry.sha256}.wav`, { 'if-none-match': `"${entry.sha256}"` });
    expect(again.status).toBe(304);
    const etag = (await get('/v1/voices/en-US')).headers.get('etag')!;
    expect((await get('/v1/voices/en-US', { 'if-none-match': etag })).status).toBe(304);
  });

  it('never reaches a file through its path: every spelling of ".." misses', async () => {
    const attempts = [
      '/v1/voices/en-US/clips/..%2Fsecret.wav',
      '/v1/voices/en-US/clips/..%2F..%2Fsecret.wav',
      '/v1/voices/en-US/clips/%2e%2e%2fmanifest.json',
      '/v1/voices/en-US/clips/manifest.json',
      '/v1/voices/en-US/clips/..%5Csecret.wav',
      '/v1/voices/..%2Fen-US-espeak-ng/clips/c001.wav',
      '/v1/voices/en-US/clips/../../secret.wav',
      '/v1/voices/en-US/clips/../../../../../../etc/passwd',
      '/v1/voices/en-US/clips/%2Fetc%2Fpasswd',
    ];
    for (const url of attempts) {
      const r = await rawGet(url);
      expect(r.status, url).toBe(404);
      expect(JSON.parse(r.body).error.code, url).toMatch(/^(unknown-clip|unknown-language|not-found)$/);
      expect(r.body).not.toContain('not a clip');
      expect(r.body).not.toContain('root:');
    }
    const named = await rawGet('/v1/voices/en-US/clips/..%2Fsecret.wav');
    expect(JSON.parse(named.body).error.message).toBe(
      'the en-US voice pack has no clip "../secret.wav": use a clip\'s "file" (e.g. c001.wav) or "sha256" from GET /v1/voices/en-US',
    );
  });

  it('answers 404 for a language it has no words for, and 401 without the token', async () => {
    const r = await get('/v1/voices/fr-FR');
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({
      error: {
        code: 'unknown-language',
        message: 'there is no voice pack for "fr-FR": the languages are zh-CN, en-US, hi-IN',
      },
    });
    const anonymous = await get('/v1/voices/en-US/clips/c001.wav', {}, false);
    expect(anonymous.status).toBe(401);
  });

  it('serves a provisioned device with its own credentials (HTTP Basic), and refuses a wrong password', async () => {
    const made = await fetch(`${api}/v1/devices/SPK-VOICE/provision`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(made.status).toBe(201);
    const { credentials } = (await made.json()) as { credentials: { username: string; password: string } };
    const basic = (user: string, pass: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
    });
    const own = await get('/v1/voices/en-US/clips/c001.wav', basic(credentials.username, credentials.password), false);
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toBe('audio/wav');
    const wrong = await get('/v1/voices/en-US', basic(credentials.username, `${credentials.password}x`), false);
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toMatch(
      /wrong device credentials for "SPK-VOICE"/,
    );
  });
});

describe('without a TTS engine', () => {
  it('answers 503 voice-engine-missing with the install command, and records nothing', async () => {
    const source = new VoicePackSource({ cacheDir: tempDataDir(), engineInstalled: () => false, log: silentLogger });
    await expect(Promise.resolve().then(() => source.pack('hi-IN'))).rejects.toMatchObject({
      statusCode: 503,
      code: 'voice-engine-missing',
      message: expect.stringMatching(/npm install @echogarden\/espeak-ng-emscripten/),
    });
  });
});

/** The voice-pack cache a speaker uses: recorded on first use, reused, repaired, shared between racers. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEspeakEngine, espeakInstalled } from '../../src/audio/tts/espeak.ts';
import { utter, vocabulary } from '../../src/speech/index.ts';
import {
  cachedPackDir,
  createVoice,
  ensureVoicePack,
  joinWithGaps,
  loadVoicePack,
  MANIFEST_FILE,
  type Manifest,
  type VoicePack,
} from '../../src/voice/index.ts';
import { captureLog, ESPEAK_MISSING, removeTempDirs, tempDir } from './helpers.ts';

function runScript(script: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe.skipIf(!espeakInstalled())(`voice-pack cache (skipped if ${ESPEAK_MISSING})`, () => {
  afterAll(removeTempDirs);
  const engine = createEspeakEngine();
  const total = vocabulary('zh-CN').length;
  let cacheDir: string;
  let dir: string;
  let first: VoicePack;
  const firstProgress: number[] = [];
  const firstLog = captureLog();

  const manifest = () => JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  const manifestMtime = () => fs.statSync(path.join(dir, MANIFEST_FILE)).mtimeMs;

  beforeAll(async () => {
    cacheDir = tempDir('cache');
    dir = cachedPackDir(cacheDir, 'zh-CN', engine);
    first = await ensureVoicePack('zh-CN', {
      engine,
      cacheDir,
      log: firstLog.log,
      onProgress: (done) => firstProgress.push(done),
    });
  }, 60_000);

  it('records the pack on first use, reporting progress', () => {
    expect(first.dir).toBe(dir);
    expect(first.clips.size).toBe(total);
    expect(firstProgress).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(firstLog.lines.map((l) => l.msg)).toContain(
      'recording the zh-CN voice pack with espeak-ng (first use only)',
    );
    expect(firstLog.warnings()).toEqual([]);
    // Only the finished pack is left: the temp build folder was renamed into place.
    expect(fs.readdirSync(cacheDir)).toEqual([path.basename(dir)]);
  });

  it('reuses it on the next call without recording anything', async () => {
    const before = { builtAt: manifest().builtAt, mtime: manifestMtime() };
    const progress: number[] = [];
    const again = await ensureVoicePack('zh-CN', { engine, cacheDir, onProgress: (done) => progress.push(done) });
    expect(progress).toEqual([]);
    expect({ builtAt: manifest().builtAt, mtime: manifestMtime() }).toEqual(before);
    expect(again.version).toBe(first.version);
  });

  it('gives createVoice("clips") the cached pack, and its voice joins clips', async () => {
    const progress: number[] = [];
    const voice = await createVoice('clips', { langs: ['zh-CN'], cacheDir, onProgress: (done) => progress.push(done) });
    expect(progress).toEqual([]);
    const u = utter(
      { type: 'payment', payment: { amount: 12_345, currency: 'CNY', channel: 'alipay', kind: 'payment' } },
      'zh-CN',
    );
    const pcm = await voice.render(u, 'zh-CN');
    const expected = joinWithGaps(
      u.clips.map((k) => first.clips.get(k)!),
      first.sampleRate,
      40,
    );
    expect(Buffer.from(pcm.samples.buffer).equals(Buffer.from(expected.samples.buffer))).toBe(true);
  });

  it('re-records a damaged pack, with a warning naming the damage', async () => {
    const file = Object.values(manifest().clips)[3]!.file;
    fs.writeFileSync(path.join(dir, file), 'not a wav');
    const { log, warnings } = captureLog();
    const progress: number[] = [];
    const repaired = await ensureVoicePack('zh-CN', {
      engine,
      cacheDir,
      log,
      onProgress: (done) => progress.push(done),
    });
    expect(progress).toHaveLength(total);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.msg).toMatch(new RegExp(`damaged: ${file} .*re-recording it with espeak-ng`));
    await expect(loadVoicePack(dir)).resolves.toMatchObject({ version: repaired.version });
  });

  it('re-records a pack whose version is stale', async () => {
    fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest(), version: 'from-an-old-release' }));
    const { log, warnings } = captureLog();
    const fresh = await ensureVoicePack('zh-CN', { engine, cacheDir, log });
    expect(fresh.version).toBe(first.version);
    expect(manifest().version).toBe(first.version);
    expect(warnings()[0]!.msg).toContain(`is version from-an-old-release, this payspeaker needs ${first.version}`);
  });

  it('survives two builders racing for the same pack: one wins, the other uses its pack', async () => {
    const raceDir = tempDir('race');
    const { log, lines } = captureLog();
    const [a, b] = await Promise.all([
      ensureVoicePack('zh-CN', { engine, cacheDir: raceDir, log }),
      ensureVoicePack('zh-CN', { engine, cacheDir: raceDir, log }),
    ]);
    expect(lines.filter((l) => l.msg.startsWith('another builder installed this voice pack first'))).toHaveLength(1);
    expect(a.dir).toBe(b.dir);
    expect(a.version).toBe(b.version);
    // No temp or moved-aside folders left behind, and what is in place loads cleanly.
    expect(fs.readdirSync(raceDir)).toEqual([path.basename(a.dir)]);
    const onDisk = await loadVoicePack(a.dir);
    expect(onDisk.clips.size).toBe(total);
  });

  it('survives two processes racing for the same pack', { timeout: 60_000 }, async () => {
    const raceDir = tempDir('race-processes');
    const script = path.join(import.meta.dirname, 'fixtures/ensure-pack.ts');
    const results = await Promise.all([0, 1].map(() => runScript(script, raceDir)));
    const [a, b] = results.map((r) => JSON.parse(r) as { dir: string; version: string; clips: number });
    expect(a).toEqual(b);
    expect(a).toMatchObject({ version: first.version, clips: total });
    expect(fs.readdirSync(raceDir)).toEqual([path.basename(a!.dir)]);
    await expect(loadVoicePack(a!.dir)).resolves.toMatchObject({ version: first.version });
  });

  it('shares one loaded pack between the speakers of a process', async () => {
    const shared = tempDir('shared');
    const progress: number[] = [];
    await createVoice('clips', { langs: ['zh-CN'], cacheDir: shared, onProgress: (done) => progress.push(done) });
    expect(progress).toHaveLength(total);
    // With the files gone, a second speaker can only have got its clips from the first one's copy.
    fs.rmSync(shared, { recursive: true });
    const voice = await createVoice('clips', {
      langs: ['zh-CN'],
      cacheDir: shared,
      onProgress: (done) => progress.push(done),
    });
    expect(progress).toHaveLength(total);
    const u = utter(
      { type: 'payment', payment: { amount: 500, currency: 'CNY', channel: 'wechat', kind: 'payment' } },
      'zh-CN',
    );
    expect((await voice.render(u, 'zh-CN')).samples.length).toBeGreaterThan(0);
  });
});

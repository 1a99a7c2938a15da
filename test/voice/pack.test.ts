/**
 * A real zh-CN voice pack recorded with eSpeak NG, built once for the whole file: its manifest,
 * its checks, and the voice that joins its clips.
 */
import { applyVolume, peak } from '../../src/audio/volume.ts';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatPcm, durationMs, silence, type Pcm } from '../../src/audio/pcm.ts';
import { createEspeakEngine, espeakInstalled } from '../../src/audio/tts/espeak.ts';
import type { TtsEngine } from '../../src/audio/tts/engine.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { utter, vocabulary, type Message } from '../../src/speech/index.ts';
import {
  buildVoicePack,
  createClipVoice,
  loadVoicePack,
  MANIFEST_FILE,
  packVersion,
  TRIM_MARGIN_MS,
  TRIM_THRESHOLD,
  VoicePackError,
  type Manifest,
  type VoicePack,
} from '../../src/voice/index.ts';
import { captureLog, counting, ESPEAK_MISSING, removeTempDirs, tempDir } from './helpers.ts';

const payment = (amount: number, channel: 'wechat' | 'alipay' = 'wechat'): Message => ({
  type: 'payment',
  payment: { amount, currency: 'CNY', channel, kind: 'payment' },
});

/** Index of the first sample that differs, or -1 (toEqual on 100k-sample arrays takes seconds). */
function firstDifference(a: Int16Array, b: Int16Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe.skipIf(!espeakInstalled())(`zh-CN voice pack (skipped if ${ESPEAK_MISSING})`, () => {
  afterAll(removeTempDirs);
  const engine = createEspeakEngine();
  let dir: string;
  let built: VoicePack;
  const progress: [number, number, string][] = [];

  beforeAll(async () => {
    dir = path.join(tempDir('pack'), 'zh-CN');
    built = await buildVoicePack({ lang: 'zh-CN', engine, outDir: dir, onProgress: (...p) => progress.push(p) });
  }, 60_000);

  const manifest = () => JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;

  it('records every vocabulary clip as a short-named WAV with a correct sha256', () => {
    const m = manifest();
    const keys = vocabulary('zh-CN').map((c) => c.key);
    expect(Object.keys(m.clips).sort()).toEqual([...keys].sort());
    expect(m).toMatchObject({
      format: 1,
      language: 'zh-CN',
      sampleRate: 22_050,
      engine: 'espeak-ng',
      version: packVersion('zh-CN', engine),
    });
    for (const [key, entry] of Object.entries(m.clips)) {
      expect(entry.file, key).toMatch(/^c\d{3}\.wav$/);
      const bytes = fs.readFileSync(path.join(dir, entry.file));
      expect(createHash('sha256').update(bytes).digest('hex'), key).toBe(entry.sha256);
      expect(decodeWav(bytes).samples.length, key).toBe(entry.samples);
    }
    expect(progress.at(-1)).toEqual([keys.length, keys.length, keys.at(-1)]);
  });

  it('trims the silence around each clip, keeping the documented margin', () => {
    const margin = Math.round((TRIM_MARGIN_MS * 22_050) / 1000);
    for (const [key, pcm] of built.clips) {
      const loud = (s: number) => Math.abs(s) > TRIM_THRESHOLD;
      expect(pcm.samples.findIndex(loud), key).toBeLessThanOrEqual(margin);
      expect(pcm.samples.slice().reverse().findIndex(loud), key).toBeLessThanOrEqual(margin);
    }
  });

  it('loads back what it built', async () => {
    const pack = await loadVoicePack(dir);
    expect(pack.version).toBe(built.version);
    expect([...pack.clips.keys()].sort()).toEqual([...built.clips.keys()].sort());
    expect(pack.bytes).toBe(built.bytes);
  });

  it('refuses a tampered clip, naming the file, the pack and the command to rebuild it', async () => {
    const copy = path.join(tempDir('tampered'), 'zh-CN');
    fs.cpSync(dir, copy, { recursive: true });
    const { file } = manifest().clips['元']!;
    const wav = fs.readFileSync(path.join(copy, file));
    const at = wav.length - 100; // one sample of audio, not the header
    wav.writeUInt8(wav.readUInt8(at) ^ 0x55, at);
    fs.writeFileSync(path.join(copy, file), wav);
    const err = await loadVoicePack(copy).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VoicePackError);
    expect((err as VoicePackError).file).toBe(file);
    expect((err as Error).message).toContain(`voice pack ${copy} is damaged: ${file} (clip "元") has sha256`);
    expect((err as Error).message).toContain(`npx payspeaker voicepack build --lang zh-CN --out ${copy}`);
  });

  it('never leaves a half-built pack that loads: the manifest comes last', async () => {
    const copy = path.join(tempDir('interrupted'), 'zh-CN');
    fs.cpSync(dir, copy, { recursive: true });
    let calls = 0;
    const dying: TtsEngine = {
      name: 'espeak-ng',
      synthesize: (t, l) => (++calls > 5 ? Promise.reject(new Error('power cut')) : engine.synthesize(t, l)),
    };
    await expect(buildVoicePack({ lang: 'zh-CN', engine: dying, outDir: copy })).rejects.toThrow(
      /could not record clip .*power cut/,
    );
    const err = await loadVoicePack(copy).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VoicePackError);
    expect((err as VoicePackError).missing).toBe(true);
    expect(fs.readdirSync(copy).filter((f) => f.endsWith('.wav'))).toHaveLength(5);
  });

  describe('clip voice', () => {
    /** Straight from the WAV files, not through the loader, so the check is independent of it. */
    function clipFromDisk(key: string): Pcm {
      return decodeWav(fs.readFileSync(path.join(dir, manifest().clips[key]!.file)));
    }

    it('joins the clips with the configured gap, sample for sample, without synthesising', async () => {
      const pack = await loadVoicePack(dir);
      const fallback = counting(engine);
      const { log, warnings } = captureLog();
      for (const gapMs of [40, 25, 0]) {
        const voice = createClipVoice({ packs: { 'zh-CN': pack }, gapMs, fallback, log });
        for (const m of [payment(12_345_678_90), payment(100_500, 'alipay'), payment(1)]) {
          const u = utter(m, 'zh-CN');
          const parts = u.clips.flatMap((key, i) =>
            i === 0 ? [clipFromDisk(key)] : [silence(gapMs, 22_050), clipFromDisk(key)],
          );
          const pcm = await voice.render(u, 'zh-CN');
          expect(pcm.sampleRate).toBe(22_050);
          const expected = concatPcm(parts).samples;
          expect(pcm.samples.length, `${u.text} with ${gapMs} ms gaps`).toBe(expected.length);
          expect(firstDifference(pcm.samples, expected), `${u.text} with ${gapMs} ms gaps`).toBe(-1);
        }
      }
      expect(fallback.calls).toEqual([]);
      expect(warnings()).toEqual([]);
    });

    it('renders at a volume level exactly as scaling the full-volume sentence would, and a second time the same', async () => {
      const pack = await loadVoicePack(dir);
      const voice = createClipVoice({ packs: { 'zh-CN': pack }, fallback: engine });
      const u = utter(payment(12_345_678_90), 'zh-CN');
      const full = await voice.render(u, 'zh-CN');
      for (const level of [7, 1, 0, 7]) {
        const expected = applyVolume(full, level).samples;
        const pcm = await voice.render(u, 'zh-CN', level);
        expect(firstDifference(pcm.samples, expected), `level ${level}`).toBe(-1);
        expect(pcm.samples.length).toBe(expected.length);
      }
      expect(peak(await voice.render(u, 'zh-CN', 7))).toBeLessThan(peak(full));
    });

    it('speaks a sentence with a missing clip through the fallback, warning once for that clip', async () => {
      const pack = await loadVoicePack(dir);
      const withoutYuan: VoicePack = { ...pack, clips: new Map([...pack.clips].filter(([key]) => key !== '元')) };
      const fallback = counting(engine);
      const { log, warnings } = captureLog();
      const voice = createClipVoice({ packs: { 'zh-CN': withoutYuan }, fallback, log });
      const texts: string[] = [];
      for (const amount of [500, 1234, 500]) {
        const u = utter(payment(amount), 'zh-CN');
        texts.push(u.text);
        const pcm = await voice.render(u, 'zh-CN');
        const alone = await engine.synthesize(u.text, 'zh-CN');
        // eSpeak varies slightly from call to call: compare lengths, not samples.
        expect(pcm.samples.length / alone.samples.length).toBeCloseTo(1, 1);
      }
      expect(fallback.calls).toEqual(texts);
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]).toMatchObject({ lang: 'zh-CN', missing: ['元'] });
      expect(warnings()[0]!.msg).toContain('has no clip "元"');
    });

    it('falls back, with one warning, for a language it has no pack for', async () => {
      const { log, warnings } = captureLog();
      const voice = createClipVoice({ packs: {}, fallback: engine, log });
      const u = utter(payment(500), 'zh-CN');
      expect(durationMs(await voice.render(u, 'zh-CN'))).toBeGreaterThan(500);
      await voice.render(u, 'zh-CN');
      expect(warnings().map((w) => w.msg)).toEqual([expect.stringContaining('there is no zh-CN voice pack')]);
    });

    it('refuses a negative gap', () => {
      expect(() => createClipVoice({ packs: {}, gapMs: -1, fallback: engine })).toThrow(
        'gapMs must be a finite number >= 0, got -1',
      );
    });
  });
});

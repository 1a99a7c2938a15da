import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileSink, safeLabel, wavFileName } from '../../device/drivers/audio/file.ts';
import { decodeWav } from '../../src/audio/wav.ts';
import { tempDir } from './alsa-helpers.ts';

const NAME = /^\d{4}-\d\d-\d\dT\d{6}\.\d{3}Z-[A-Za-z0-9._-]+\.wav$/;

describe('file sink', () => {
  it('names files <ISO time without colons>-<safe label>.wav', () => {
    expect(wavFileName('sp-1 wechat ¥12.30', new Date('2024-05-06T07:08:09.010Z'))).toBe(
      '2024-05-06T070809.010Z-sp-1_wechat_12.30.wav',
    );
    expect(safeLabel('../../etc/passwd')).toBe('etc_passwd');
    expect(safeLabel('微信')).toBe('announcement');
  });

  it('writes one decodable WAV per call, in a directory it creates', async () => {
    const dir = path.join(tempDir('file'), 'nested', 'out');
    const sink = createFileSink(dir);
    const pcm = { sampleRate: 22_050, samples: Int16Array.of(5, -5, 100) };
    // Same label, concurrently, very likely the same millisecond: nothing may be overwritten.
    const results = await Promise.all([
      sink.play(pcm, 'dev 1/wechat'),
      sink.play(pcm, 'dev 1/wechat'),
      sink.play(pcm, 'x'),
    ]);
    await sink.close();

    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(3);
    expect(new Set(results.map((r) => r.file)).size).toBe(3);
    for (const r of results) {
      expect(r.sink).toBe('file');
      expect(path.dirname(r.file!)).toBe(dir);
      expect(path.basename(r.file!)).toMatch(NAME);
      expect(r.durationMs).toBeCloseTo(3000 / 22_050, 9);
      expect(Array.from(decodeWav(readFileSync(r.file!)).samples)).toEqual([5, -5, 100]);
    }
    expect(path.basename(results[0]!.file!)).toMatch(/-dev_1_wechat\.wav$/);
    await expect(sink.play(pcm, 'late')).rejects.toThrow(/closed/);
  });
});

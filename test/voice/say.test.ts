/**
 * The `say` engine. What runs here is its Linux side, for real: festival's text2wave for English,
 * clear refusals for Chinese and Hindi. macOS and Windows cannot run here; their WAV output
 * (32-bit float from macOS) is covered through the converter.
 */
import { describe, expect, it } from 'vitest';
import { durationMs, nonSilentMs } from '../../src/audio/pcm.ts';
import { createSayEngine, sayUnsupported } from '../../src/audio/tts/say.ts';
import { decodeSpeechWav } from '../../src/audio/tts/wav-convert.ts';
import { encodeWav } from '../../src/audio/wav.ts';
import { createVoice } from '../../src/voice/index.ts';
import { needs } from '../support/prerequisites.ts';

const text2wave = needs('text2wave');

describe('say engine on Linux', () => {
  const linux = createSayEngine({ platform: 'linux' });

  it('speaks English through festival text2wave', { timeout: 30_000 }, async ({ skip }) => {
    skip(text2wave.missing, text2wave.reason);
    const pcm = await linux.synthesize('Received one hundred twenty three dollars on Paytm', 'en-US');
    expect(pcm.sampleRate).toBe(16_000);
    expect(durationMs(pcm)).toBeGreaterThan(1000);
    expect(nonSilentMs(pcm)).toBeGreaterThan(500);
  });

  it('refuses Chinese and Hindi, which festival cannot read, and says what to use', async () => {
    await expect(linux.synthesize('微信收款五元', 'zh-CN')).rejects.toThrow(
      'say: on Linux the say engine speaks through festival, which cannot read Chinese: use --voice-engine espeak or clips',
    );
    await expect(linux.synthesize('पाँच रुपये', 'hi-IN')).rejects.toThrow(
      'festival, which cannot read Hindi: use --voice-engine espeak or clips',
    );
  });

  it('says to install festival when text2wave is missing', async () => {
    const without = createSayEngine({ platform: 'linux', text2wave: 'payspeaker-no-such-text2wave' });
    await expect(without.synthesize('hello', 'en-US')).rejects.toThrow(
      "say: festival's payspeaker-no-such-text2wave is not installed, so the say engine cannot speak on Linux: install the festival Debian package (sudo apt-get install festival) or use --voice-engine espeak",
    );
  });

  it.runIf(process.platform === 'linux')(
    'fails at voice creation, not at the first payment, for a language it cannot speak',
    async () => {
      await expect(createVoice('say', { langs: ['zh-CN'] })).rejects.toThrow('cannot read Chinese');
    },
  );
});

describe('say engine elsewhere', () => {
  it('knows a system voice for each language on macOS, and none on other systems', () => {
    for (const lang of ['zh-CN', 'en-US', 'hi-IN'] as const) expect(sayUnsupported(lang, 'darwin')).toBeUndefined();
    expect(sayUnsupported('hi-IN', 'win32')).toBe(
      'say: no Hindi system voice is known on win32: use --voice-engine espeak or clips',
    );
    expect(sayUnsupported('hi-IN', 'win32', { 'hi-IN': 'Microsoft Kalpana' })).toBeUndefined();
    expect(sayUnsupported('en-US', 'freebsd')).toBe(
      'say: no system voice on freebsd: use --voice-engine espeak or clips',
    );
  });
});

describe('reading system voice WAVs', () => {
  it('reads our own 16-bit mono WAV sample for sample', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    expect(decodeSpeechWav(encodeWav({ sampleRate: 22_050, samples }))).toEqual({ sampleRate: 22_050, samples });
  });

  it("turns macOS say's 32-bit float into 16-bit mono at the same rate", () => {
    const floats = [0, 0.5, -0.5, 1, -1, 1.5];
    const pcm = decodeSpeechWav(
      wav(
        { format: 3, bits: 32, channels: 1, rate: 32_000 },
        (b, i) => b.writeFloatLE(floats[i]!, i * 4),
        floats.length,
      ),
    );
    expect(pcm.sampleRate).toBe(32_000);
    expect([...pcm.samples]).toEqual([0, 16384, -16384, 32767, -32768, 32767]);
  });

  it('averages stereo into mono', () => {
    const frames = [
      [1000, 3000],
      [-2000, 0],
    ];
    const pcm = decodeSpeechWav(
      wav(
        { format: 1, bits: 16, channels: 2, rate: 16_000 },
        (b, i) => b.writeInt16LE(frames[i >> 1]![i & 1]!, i * 2),
        4,
      ),
    );
    expect([...pcm.samples]).toEqual([2000, -1000]);
  });

  it('says what it cannot read', () => {
    expect(() => decodeSpeechWav(wav({ format: 2, bits: 4, channels: 1, rate: 8000 }, () => undefined, 0))).toThrow(
      'system voice WAV is format 2, 4 bits, 1 channels: only integer or float PCM can be read',
    );
  });
});

/** A minimal RIFF/WAVE with `count` values written by `put`. */
function wav(
  f: { format: number; bits: number; channels: number; rate: number },
  put: (b: Buffer, i: number) => void,
  count: number,
): Buffer {
  const data = Buffer.alloc((count * f.bits) / 8);
  for (let i = 0; i < count; i++) put(data, i);
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8, 'ascii');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(f.format, 20);
  head.writeUInt16LE(f.channels, 22);
  head.writeUInt32LE(f.rate, 24);
  head.writeUInt32LE((f.rate * f.channels * f.bits) / 8, 28);
  head.writeUInt16LE((f.channels * f.bits) / 8, 32);
  head.writeUInt16LE(f.bits, 34);
  head.write('data', 36, 'ascii');
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

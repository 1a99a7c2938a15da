import { describe, expect, it } from 'vitest';
import { decodeWav, encodeWav } from '../../src/audio/wav.ts';

const pcm = { sampleRate: 22_050, samples: Int16Array.of(0, 1, -1, 32767, -32768, 1234, -4321) };

/** Insert a chunk between "fmt " and "data", as many editors and recorders do. */
function withChunkBeforeData(wav: Buffer, id: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, 'ascii');
  header.writeUInt32LE(body.length, 4);
  const pad = Buffer.alloc(body.length % 2);
  const out = Buffer.concat([wav.subarray(0, 36), header, body, pad, wav.subarray(36)]);
  out.writeUInt32LE(out.length - 8, 4);
  return out;
}

describe('wav', () => {
  it('writes the canonical 44-byte mono 16-bit header', () => {
    const wav = encodeWav(pcm);
    expect(wav.length).toBe(44 + pcm.samples.length * 2);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.toString('ascii', 8, 16)).toBe('WAVEfmt ');
    expect(wav.readUInt16LE(20)).toBe(1); // PCM
    expect(wav.readUInt16LE(22)).toBe(1); // mono
    expect(wav.readUInt32LE(24)).toBe(22_050);
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(wav.toString('ascii', 36, 40)).toBe('data');
    expect(wav.readInt16LE(44 + 3 * 2)).toBe(32767);
  });

  it('round-trips samples and rate', () => {
    const back = decodeWav(encodeWav(pcm));
    expect(back.sampleRate).toBe(22_050);
    expect(Array.from(back.samples)).toEqual(Array.from(pcm.samples));
  });

  it('skips unknown chunks such as LIST (odd-sized, padded)', () => {
    const list = Buffer.from('INFOISFT\x05\x00\x00\x00Lavf\x00', 'latin1'); // 17 bytes: needs a pad byte
    const wav = withChunkBeforeData(encodeWav(pcm), 'LIST', list);
    expect(Array.from(decodeWav(wav).samples)).toEqual(Array.from(pcm.samples));
  });

  it('explains garbage, truncation and unsupported formats', () => {
    expect(() => decodeWav(Buffer.from('hello, this is not audio at all'))).toThrow(/not a WAV file/);
    expect(() => decodeWav(Buffer.alloc(0))).toThrow(/not a WAV file.*empty/);
    const wav = encodeWav(pcm);
    expect(() => decodeWav(wav.subarray(0, wav.length - 3))).toThrow(
      /truncated WAV: data chunk declares 14 bytes but only 11 remain/,
    );
    expect(() => decodeWav(wav.subarray(0, 30))).toThrow(/truncated WAV/);
    const stereo = Buffer.from(wav);
    stereo.writeUInt16LE(2, 22);
    expect(() => decodeWav(stereo)).toThrow(/unsupported WAV: 2 channels/);
    const float = Buffer.from(wav);
    float.writeUInt16LE(3, 20);
    expect(() => decodeWav(float)).toThrow(/unsupported WAV: format code 3/);
  });
});

/**
 * RIFF/WAVE for mono 16-bit PCM. We write the canonical 44-byte header (what aplay, afplay and
 * Windows' SoundPlayer all accept) and read real-world files, which carry extra chunks (LIST, fact…).
 */
import type { Pcm } from './pcm.ts';

const PCM_FORMAT = 1;
const EXTENSIBLE_FORMAT = 0xfffe;
/** Writers that stream (and so cannot know the length) put this in the data chunk size. */
const UNKNOWN_SIZE = 0xffffffff;

export function encodeWav(pcm: Pcm): Buffer {
  const dataBytes = pcm.samples.length * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(PCM_FORMAT, 20);
  buf.writeUInt16LE(1, 22); // channels
  buf.writeUInt32LE(pcm.sampleRate, 24);
  buf.writeUInt32LE(pcm.sampleRate * 2, 28); // byte rate
  buf.writeUInt16LE(2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  // Sample by sample, so the output is little-endian whatever the host's byte order.
  for (let i = 0; i < pcm.samples.length; i++) buf.writeInt16LE(pcm.samples[i]!, 44 + i * 2);
  return buf;
}

interface Fmt {
  format: number;
  channels: number;
  sampleRate: number;
  bits: number;
}

/** Reads mono 16-bit PCM from WAV bytes. No Buffer: a browser tab decodes voice-pack clips with it too. */
export function decodeWav(bytes: Uint8Array): Pcm {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || ascii(bytes, 0, 4) !== 'RIFF' || ascii(bytes, 8, 12) !== 'WAVE') {
    throw new Error(`not a WAV file: expected a RIFF/WAVE header, got ${describeStart(bytes)}`);
  }
  let fmt: Fmt | undefined;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = ascii(bytes, at, at + 4);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'data') {
      if (!fmt) throw new Error('invalid WAV: data chunk comes before the fmt chunk');
      checkSupported(fmt);
      const end = size === UNKNOWN_SIZE ? bytes.length - ((bytes.length - body) % 2) : body + size;
      if (end > bytes.length) {
        throw new Error(`truncated WAV: data chunk declares ${size} bytes but only ${bytes.length - body} remain`);
      }
      if ((end - body) % 2 !== 0)
        throw new Error(`invalid WAV: 16-bit data chunk has an odd length (${end - body} bytes)`);
      const samples = new Int16Array((end - body) / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(body + i * 2, true);
      return { sampleRate: fmt.sampleRate, samples };
    }
    if (body + size > bytes.length) {
      throw new Error(
        `truncated WAV: "${printable(id)}" chunk declares ${size} bytes but only ${bytes.length - body} remain`,
      );
    }
    if (id === 'fmt ') fmt = parseFmt(new DataView(bytes.buffer, bytes.byteOffset + body, size));
    at = body + size + (size % 2); // RIFF pads odd-sized chunks to an even boundary
  }
  throw new Error(fmt ? 'truncated WAV: no data chunk found' : 'truncated WAV: no fmt chunk found');
}

function parseFmt(b: DataView): Fmt {
  if (b.byteLength < 16) throw new Error(`invalid WAV: fmt chunk is ${b.byteLength} bytes, need at least 16`);
  let format = b.getUint16(0, true);
  // WAVE_FORMAT_EXTENSIBLE keeps the real format code in the first two bytes of its sub-format GUID.
  if (format === EXTENSIBLE_FORMAT && b.byteLength >= 26) format = b.getUint16(24, true);
  return { format, channels: b.getUint16(2, true), sampleRate: b.getUint32(4, true), bits: b.getUint16(14, true) };
}

/** Latin-1 text of bytes [from, to): chunk ids are four ASCII characters. */
function ascii(bytes: Uint8Array, from: number, to: number): string {
  return String.fromCharCode(...bytes.subarray(from, to));
}

function checkSupported(f: Fmt): void {
  const problems: string[] = [];
  if (f.format !== PCM_FORMAT) problems.push(`format code ${f.format} (not integer PCM)`);
  if (f.channels !== 1) problems.push(`${f.channels} channels`);
  if (f.bits !== 16) problems.push(`${f.bits} bits per sample`);
  if (f.sampleRate <= 0) problems.push(`sample rate ${f.sampleRate}`);
  if (problems.length) {
    throw new Error(`unsupported WAV: ${problems.join(', ')}; only mono 16-bit integer PCM is supported`);
  }
}

function describeStart(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'an empty file';
  if (bytes.length < 12) return `only ${bytes.length} bytes`;
  return `"${printable(ascii(bytes, 0, 4))}…${printable(ascii(bytes, 8, 12))}"`;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

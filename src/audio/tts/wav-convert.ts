/**
 * Reads the WAVs that system voices write, which are not always our mono 16-bit shape: macOS
 * `say` writes 32-bit float (say.js asks for LEF32@32000), Windows may write stereo or 8-bit.
 * Everything becomes mono 16-bit PCM at the file's own rate (no resampling: a voice pack keeps
 * whatever rate its engine speaks at, and clips are only ever joined with clips of one pack).
 */
import type { Pcm } from '../pcm.ts';

const INT_FORMAT = 1;
const FLOAT_FORMAT = 3;
const EXTENSIBLE_FORMAT = 0xfffe;

interface Layout {
  format: number;
  channels: number;
  sampleRate: number;
  bits: number;
}

export function decodeSpeechWav(bytes: Buffer): Pcm {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('system voice output is not a WAV file (no RIFF/WAVE header)');
  }
  let layout: Layout | undefined;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const body = at + 8;
    // Writers that stream put 0 or 0xffffffff in the data size: take what is there.
    const end = Math.min(bytes.length, size === 0 && id === 'data' ? bytes.length : body + size);
    if (id === 'fmt ') layout = parseLayout(bytes.subarray(body, end));
    if (id === 'data') {
      if (!layout) throw new Error('system voice WAV has its data before its fmt chunk');
      return { sampleRate: layout.sampleRate, samples: toMonoInt16(bytes.subarray(body, end), layout) };
    }
    at = body + size + (size % 2);
  }
  throw new Error('system voice WAV has no data chunk');
}

function parseLayout(b: Buffer): Layout {
  if (b.length < 16) throw new Error(`system voice WAV has a ${b.length}-byte fmt chunk, need 16`);
  let format = b.readUInt16LE(0);
  if (format === EXTENSIBLE_FORMAT && b.length >= 26) format = b.readUInt16LE(24);
  const layout = { format, channels: b.readUInt16LE(2), sampleRate: b.readUInt32LE(4), bits: b.readUInt16LE(14) };
  const intOk = format === INT_FORMAT && [8, 16, 24, 32].includes(layout.bits);
  const floatOk = format === FLOAT_FORMAT && [32, 64].includes(layout.bits);
  if (!(intOk || floatOk) || layout.channels < 1 || layout.sampleRate <= 0) {
    throw new Error(
      `system voice WAV is format ${format}, ${layout.bits} bits, ${layout.channels} channels: only integer or float PCM can be read`,
    );
  }
  return layout;
}

/** One sample as a float in [-1, 1]. */
function reader(l: Layout): (b: Buffer, at: number) => number {
  if (l.format === FLOAT_FORMAT) return l.bits === 32 ? (b, at) => b.readFloatLE(at) : (b, at) => b.readDoubleLE(at);
  switch (l.bits) {
    case 8:
      return (b, at) => (b.readUInt8(at) - 128) / 128; // 8-bit WAV is unsigned
    case 16:
      return (b, at) => b.readInt16LE(at) / 32768;
    case 24:
      return (b, at) => b.readIntLE(at, 3) / 8388608;
    default:
      return (b, at) => b.readInt32LE(at) / 2147483648;
  }
}

/** Averages the channels and scales to int16, clipping floats that overshoot ±1. */
function toMonoInt16(data: Buffer, l: Layout): Int16Array {
  const width = l.bits / 8;
  const frame = width * l.channels;
  const read = reader(l);
  const out = new Int16Array(Math.floor(data.length / frame));
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let c = 0; c < l.channels; c++) sum += read(data, i * frame + c * width);
    const v = Math.round((sum / l.channels) * 32768); // exact for 16-bit input
    out[i] = Math.max(-32768, Math.min(32767, v));
  }
  return out;
}

/**
 * Fetches a firmware release over HTTP(S) into a file, for the A/B slots driver: capped at the
 * release's size, within a deadline, hashing as it goes so the updater can compare the sha256
 * before anything is unpacked. Every failure rejects with a reason a person can act on (which
 * URL, what it answered, how many bytes); the caller says what it refused.
 *
 * Node 18 compatible: the firmware bundle carries this file.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface DownloadLimits {
  /** The release's size: more is refused as it arrives, less at the end. */
  size: number;
  /** The whole download must finish within this. */
  timeoutMs: number;
}

/** Streams `url` into `into`; resolves with the hex sha256 of what was written. */
export async function downloadInto(url: string, into: Writable, limits: DownloadLimits): Promise<string> {
  const { size, timeoutMs } = limits;
  const signal = AbortSignal.timeout(timeoutMs);
  const response = await get(url, signal).catch((err: Error) => {
    throw new Error(
      signal.aborted ? `no answer from ${url} within ${timeoutMs / 1000} s` : `cannot download ${url} (${err.message})`,
    );
  });
  if (response.statusCode !== 200) {
    response.resume();
    throw new Error(
      `${url} answered HTTP ${response.statusCode}: is the release on the broker (npx payspeaker ota uploads it)?`,
    );
  }
  const announced = Number(response.headers['content-length']);
  if (response.headers['content-length'] !== undefined && announced !== size) {
    response.resume();
    throw new Error(`${url} is ${announced} bytes, the release says ${size}`);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const tooLong = new Error(`${url} sent more than the release's ${size} bytes`);
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > size) return done(tooLong);
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(response, meter, into, { signal });
  } catch (err) {
    if (signal.aborted)
      throw new Error(`the download from ${url} took longer than ${timeoutMs / 1000} s`, { cause: err });
    throw err === tooLong
      ? err
      : new Error(`the download from ${url} broke off (${(err as Error).message})`, { cause: err });
  }
  if (bytes !== size) throw new Error(`${url} ended after ${bytes} of the release's ${size} bytes`);
  return hash.digest('hex');
}

function get(url: string, signal: AbortSignal): Promise<http.IncomingMessage> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { signal }, resolve);
    req.on('error', reject);
  });
}

/**
 * A voice for a speaker in a browser tab: the same clip voice as a Node speaker's, its packs
 * fetched from the broker (GET /v1/voices/:lang, then each clip) instead of read from flash or
 * the cache folder. Each clip is checked against the manifest's sha256 before it may be said
 * (pack/clip-check.ts, as the Node loader does), so a tampered or truncated download is refused,
 * never half-used. No TTS engine runs in a tab: a sentence a pack cannot say fails audibly (the
 * payment is acked audio-failed, so the backend knows) instead of falling back.
 */
import type { TtsEngine } from '../../src/audio/tts/engine.ts';
import { silentLogger, type Logger } from '../../src/logger.ts';
import { toHex, utf8 } from '../../src/protocol/bytes.ts';
import type { Language } from '../../src/speech/index.ts';
import { createClipVoice } from '../../src/voice/clip-voice.ts';
import { checkedClip } from '../../src/voice/pack/clip-check.ts';
import { manifestSchema, type Manifest } from '../../src/voice/pack/manifest-schema.ts';
import type { VoicePack } from '../../src/voice/pack/load.ts';
import type { Voice } from '../../src/voice/voice.ts';

export interface HttpVoiceOptions {
  /** The broker's HTTP origin, e.g. http://127.0.0.1:8081. */
  apiUrl: string;
  lang: Language;
  /** The device's own credentials on a secure broker (sent as HTTP Basic); null: none (--insecure). */
  credentials?: { username: string; password: string } | null;
  fetch?: typeof globalThis.fetch;
  subtle?: SubtleCrypto;
  log?: Logger;
  /** Called after each clip arrives, for a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

/** Fetches and checks the language's pack, then makes the clip voice. Rejects with a sentence on any failure. */
export async function loadHttpVoice(opts: HttpVoiceOptions): Promise<Voice> {
  const pack = await fetchVoicePack(opts);
  return createClipVoice({ packs: { [opts.lang]: pack }, fallback: noTts, log: opts.log ?? silentLogger });
}

export async function fetchVoicePack(opts: HttpVoiceOptions): Promise<VoicePack> {
  const get = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const subtle = opts.subtle ?? globalThis.crypto.subtle;
  const base = `${opts.apiUrl.replace(/\/$/, '')}/v1/voices/${encodeURIComponent(opts.lang)}`;
  const { credentials } = opts;
  const headers: Record<string, string> = credentials
    ? {
        authorization: `Basic ${btoa(String.fromCharCode(...utf8(`${credentials.username}:${credentials.password}`)))}`,
      }
    : {};
  const fetchOk = async (url: string): Promise<Response> => {
    let res: Response;
    try {
      res = await get(url, { headers });
    } catch (err) {
      throw new Error(`cannot fetch the ${opts.lang} voice pack from ${url}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new Error(
        `the broker refused the ${opts.lang} voice pack (${url}: HTTP ${res.status}${body?.error?.message ? `, ${body.error.message}` : ''})`,
      );
    }
    return res;
  };
  const raw = (await (await fetchOk(base)).json()) as { manifest?: unknown };
  const parsed = manifestSchema.safeParse(raw.manifest ?? raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(
      `the ${opts.lang} voice pack's manifest from ${base} is not valid: ${issue.path.join('.') || '(top)'}: ${issue.message}`,
    );
  }
  const manifest = parsed.data as Manifest;
  const entries = Object.entries(manifest.clips);
  let done = 0;
  let bytes = 0;
  const clips = new Map(
    await Promise.all(
      entries.map(async ([key, entry]) => {
        const url = `${base}/clips/${encodeURIComponent(entry.file)}`;
        const data = new Uint8Array(await (await fetchOk(url)).arrayBuffer());
        const sha256 = toHex(new Uint8Array(await subtle.digest('SHA-256', data)));
        const fail = (problem: string) =>
          new Error(`the ${opts.lang} voice pack from ${base} is damaged: ${entry.file} (clip "${key}") ${problem}`);
        const pcm = checkedClip(manifest, entry, data, sha256, fail);
        bytes += data.byteLength;
        opts.onProgress?.(++done, entries.length);
        return [key, pcm] as const;
      }),
    ),
  );
  return {
    dir: base,
    manifest,
    language: manifest.language,
    version: manifest.version,
    sampleRate: manifest.sampleRate,
    clips,
    bytes,
  };
}

/** The tab's "TTS engine": there is none, and saying so is better than a wrong voice. */
const noTts: TtsEngine = {
  name: 'no TTS in a browser tab',
  synthesize(text) {
    return Promise.reject(new Error(`the voice pack has no clips for "${text}" and a browser tab has no TTS engine`));
  },
};

/**
 * GET /v1/voices/:lang and GET /v1/voices/:lang/clips/:name: the voice packs a speaker in a
 * browser tab announces with, the same packs (same engine, same cache) the Node clip voice uses
 * (src/voice/index.ts: createVoice('clips')), so a tab and a Node speaker say a payment with the
 * same samples.
 *
 * A pack is recorded on the first request for its language (about a second with eSpeak NG),
 * then served from memory: every clip's bytes are read once and checked against the manifest's
 * sha256, so what is served is exactly what the manifest promises, even if the cache folder is
 * rebuilt underneath (a restart picks the new pack up). Concurrent first requests share one build.
 *
 * No request value ever becomes a path: `:lang` must be one of LANGUAGES and `:name` is looked up
 * in the manifest's clips, so `..`, `%2F` and the like can only miss.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createEspeakEngine, ESPEAK_PACKAGE, espeakInstalled } from '../../src/audio/tts/espeak.ts';
import type { TtsEngine } from '../../src/audio/tts/engine.ts';
import type { Logger } from '../../src/log.ts';
import { isLanguage, LANGUAGES, type Language } from '../../src/speech/index.ts';
import { defaultVoicePackDir, ensureVoicePack, type Manifest } from '../../src/voice/index.ts';
import { clip } from '../log-throttle.ts';
import type { ApiAuth } from './auth.ts';
import { ApiError } from './errors.ts';

export interface VoicePackSourceOptions {
  /** Where packs are cached; default defaultVoicePackDir() (the Node clip voice's). */
  cacheDir?: string;
  /** The engine packs are recorded with; default eSpeak NG, as the Node clip voice. */
  engine?: TtsEngine;
  /** Whether that engine can run here; default: whether eSpeak NG's package is installed. */
  engineInstalled?: () => boolean;
  log: Logger;
}

interface ServedClip {
  bytes: Buffer;
  sha256: string;
}

interface ServedPack {
  manifest: Manifest;
  /** The manifest as served, and its ETag (a hash of those bytes). */
  json: string;
  etag: string;
  /** By the manifest's file name (c001.wav) and by sha256. */
  clips: Map<string, ServedClip>;
}

/** A clip by its content hash: the URL can never name other bytes, so browsers may keep it for good. */
const SHA256_NAME = /^([0-9a-f]{64})(?:\.wav)?$/;

export class VoicePackSource {
  private readonly packs = new Map<Language, Promise<ServedPack>>();
  private readonly engine: TtsEngine;
  private readonly cacheDir: string;

  constructor(private readonly opts: VoicePackSourceOptions) {
    this.engine = opts.engine ?? createEspeakEngine();
    this.cacheDir = opts.cacheDir ?? defaultVoicePackDir();
  }

  /** The pack for `lang`, recorded first if the cache has none; one build however many ask at once. */
  pack(lang: Language): Promise<ServedPack> {
    let pending = this.packs.get(lang);
    if (!pending) {
      if (!(this.opts.engineInstalled ?? espeakInstalled)())
        throw new ApiError(
          503,
          'voice-engine-missing',
          `the ${lang} voice pack is recorded with ${this.engine.name}, which is not installed on the broker: run "npm install ${ESPEAK_PACKAGE}" where the broker runs, restart it, and ask again`,
        );
      pending = this.load(lang);
      this.packs.set(lang, pending);
      pending.catch(() => this.packs.delete(lang)); // a later request tries again
    }
    return pending;
  }

  private async load(lang: Language): Promise<ServedPack> {
    let pack;
    try {
      pack = await ensureVoicePack(lang, { engine: this.engine, cacheDir: this.cacheDir, log: this.opts.log });
    } catch (err) {
      this.opts.log.error({ lang, err: (err as Error).message }, `could not record the ${lang} voice pack`);
      throw new ApiError(
        503,
        'voice-pack-unavailable',
        `the ${lang} voice pack could not be recorded (${clip((err as Error).message, 200)}): the broker log has the details; ask again, or build it with "npx payspeaker voicepack build --lang ${lang}"`,
      );
    }
    const clips = new Map<string, ServedClip>();
    for (const entry of Object.values(pack.manifest.clips)) {
      const bytes = await readFile(path.join(pack.dir, entry.file));
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      // loadVoicePack checked it a moment ago; a rebuild in between would show here.
      if (sha256 !== entry.sha256)
        throw new ApiError(
          503,
          'voice-pack-unavailable',
          `the ${lang} voice pack in ${pack.dir} changed while it was being read (${entry.file}): ask again`,
        );
      const served = { bytes, sha256 };
      clips.set(entry.file, served);
      clips.set(sha256, served);
    }
    const json = JSON.stringify(pack.manifest);
    return {
      manifest: pack.manifest,
      json,
      etag: `"${createHash('sha256').update(json).digest('hex').slice(0, 32)}"`,
      clips,
    };
  }
}

export function voiceRoutes(app: FastifyInstance, source: VoicePackSource, auth: ApiAuth): void {
  app.get<{ Params: { lang: string } }>(
    '/v1/voices/:lang',
    { onRequest: async (req) => auth(req) },
    async (req, reply) => {
      const pack = await source.pack(language(req.params.lang));
      // Revalidated on every use (cheap with the ETag): a rebuilt pack gets a new manifest.
      reply.header('cache-control', 'no-cache').header('etag', pack.etag);
      if (notModified(req, pack.etag)) return reply.code(304).send();
      return reply.type('application/json; charset=utf-8').send(pack.json);
    },
  );

  app.get<{ Params: { lang: string; name: string } }>(
    '/v1/voices/:lang/clips/:name',
    { onRequest: async (req) => auth(req) },
    async (req, reply) => {
      const lang = language(req.params.lang);
      const pack = await source.pack(lang);
      const { name } = req.params;
      const byHash = SHA256_NAME.exec(name);
      const served = pack.clips.get(byHash ? byHash[1]! : name);
      if (!served)
        throw new ApiError(
          404,
          'unknown-clip',
          `the ${lang} voice pack has no clip ${JSON.stringify(clip(name, 80))}: use a clip's "file" (e.g. c001.wav) or "sha256" from GET /v1/voices/${lang}`,
        );
      const etag = `"${served.sha256}"`;
      // By hash the bytes can never change; by file name a rebuilt pack may put other bytes there.
      // private: a credential is needed here too, so no shared cache may hand it to others.
      reply.header('cache-control', byHash ? 'private, max-age=31536000, immutable' : 'no-cache').header('etag', etag);
      if (notModified(req, etag)) return reply.code(304).send();
      return sendWav(reply, served.bytes);
    },
  );
}

function sendWav(reply: FastifyReply, bytes: Buffer) {
  return reply.type('audio/wav').header('content-length', bytes.length).send(bytes);
}

function language(lang: string): Language {
  if (isLanguage(lang)) return lang;
  throw new ApiError(
    404,
    'unknown-language',
    `there is no voice pack for ${JSON.stringify(clip(lang, 40))}: the languages are ${LANGUAGES.join(', ')}`,
  );
}

/** If-None-Match with our ETag (or `*`): the client's copy is current. */
function notModified(req: FastifyRequest, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === etag || t === '*');
}

/**
 * A voice pack's manifest.json: which WAV holds which clip, with its checksum. It is written
 * last and atomically, so its presence is what marks a pack complete.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TtsEngine } from '../../audio/tts/engine.ts';
import { vocabulary, type Clip, type Language } from '../../speech/index.ts';
import { VERSION } from '../../version.ts';
import { TRIM_MARGIN_MS, TRIM_THRESHOLD } from './trim.ts';
import { MANIFEST_FILE, PACK_FORMAT, manifestSchema, type Manifest } from './manifest-schema.ts';

export { MANIFEST_FILE, PACK_FORMAT, manifestSchema, type ClipEntry, type Manifest } from './manifest-schema.ts';

/**
 * Changes whenever what the pack would contain changes: the clips and their texts, the engine
 * and its settings, the trimming, or payspeaker itself. A cached pack with another version is
 * rebuilt. Short, because people read it in `voicepack list`.
 */
export function packVersion(lang: Language, engine: TtsEngine, clips: Clip[] = vocabulary(lang)): string {
  const input = JSON.stringify({
    format: PACK_FORMAT,
    lang,
    clips: clips.map((c) => [c.key, c.text]),
    engine: [engine.name, engine.version ?? ''],
    trim: [TRIM_THRESHOLD, TRIM_MARGIN_MS],
    payspeaker: VERSION,
  });
  return createHash('sha256').update(input).digest('hex').slice(0, 16);
}

/** c001.wav, c002.wav…: keys may be Chinese or Devanagari, file names stay ASCII and short. */
export function clipFileName(index: number): string {
  return `c${String(index + 1).padStart(3, '0')}.wav`;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Write to a temp file, then rename: a reader sees the old manifest or the new, never half of one. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const tmp = path.join(dir, `.${MANIFEST_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(tmp, path.join(dir, MANIFEST_FILE));
}

export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(
    message: string,
    /** True when there is no manifest at all: a pack never built (or half built), not a damaged one. */
    readonly missing = false,
  ) {
    super(message);
  }
}

export async function readManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ManifestError(`${dir} holds no complete voice pack (no ${MANIFEST_FILE})`, true);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ManifestError(
      `${file} is not a voice pack manifest: ${issue.path.join('.') || '(top)'}: ${issue.message}`,
    );
  }
  return parsed.data as Manifest;
}

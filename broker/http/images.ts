/**
 * Firmware releases for over-the-air updates (docs/OTA.md), from the broker's firmware folder
 * (default DATA_DIR/broker/firmware, `broker --firmware-dir`):
 *
 *   GET /v1/firmware/<file>   anyone (a speaker downloads with no token): the tar.gz or release JSON
 *   PUT /v1/firmware/<file>   the backend (same token as the payments API): upload the tar.gz,
 *                             then its release JSON, which must verify against it with the
 *                             backend's key before it is accepted. Once a version is released
 *                             its tarball cannot change (409): speakers may be downloading it
 *
 * Downloads need no secret because nothing in an image is one, and a speaker trusts an image
 * only through its signature. File names are release names only (payspeaker-firmware-<version>
 * .tar.gz / .json), so a request cannot name anything else on the disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { IMAGE_NAME, VERSION_PATTERN, releaseFileName, tarballName } from '../../src/firmware/image.ts';
import { verifyReleaseFile } from '../../src/firmware/image-files.ts';
import { MAX_FIRMWARE_BYTES } from '../../src/protocol/index.ts';
import { ApiError } from './errors.ts';
import type { ApiAuth } from './auth.ts';

export interface FirmwareStore {
  /** The folder releases are served from and uploaded to. */
  dir: string;
  /** The backend's public key: an uploaded release must be signed with it. */
  publicKey: KeyObject;
}

export const FIRMWARE_PATH = '/v1/firmware';
const RELEASE_JSON_LIMIT = 4096;

type Kind = 'tarball' | 'release';

/** `payspeaker-firmware-1.2.0.tar.gz` → tarball of 1.2.0; anything else → null. */
export function releaseFileKind(name: string): { kind: Kind; version: string } | null {
  const prefix = `${IMAGE_NAME}-`;
  if (!name.startsWith(prefix)) return null;
  for (const [kind, ext] of [
    ['tarball', '.tar.gz'],
    ['release', '.json'],
  ] as const) {
    if (!name.endsWith(ext)) continue;
    const version = name.slice(prefix.length, -ext.length);
    return VERSION_PATTERN.test(version) ? { kind, version } : null;
  }
  return null;
}

export function firmwareRoutes(app: FastifyInstance, store: FirmwareStore, auth: ApiAuth): void {
  const fileOf = (name: string): { file: string; kind: Kind; version: string } => {
    const parsed = releaseFileKind(name);
    if (!parsed) {
      throw new ApiError(
        404,
        'not-found',
        `${JSON.stringify(name)} is not a firmware release file: the names are ${tarballName('<version>')} and ${releaseFileName('<version>')}`,
      );
    }
    return { file: path.join(store.dir, name), ...parsed };
  };

  app.get<{ Params: { file: string } }>(`${FIRMWARE_PATH}/:file`, async (req, reply) => {
    const { file, kind } = fileOf(req.params.file);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new ApiError(
        404,
        'not-found',
        `no firmware file ${req.params.file} on this broker: upload the release with "npx payspeaker ota"`,
      );
    }
    reply.header('content-length', stat.size).type(kind === 'tarball' ? 'application/gzip' : 'application/json');
    return reply.send(fs.createReadStream(file));
  });

  // Uploads are raw bytes: a parser of their own, in a scope of their own, so the payments API
  // keeps refusing anything but JSON.
  void app.register(async (scope) => {
    // Every content type, JSON included: a release JSON is read as bytes and checked here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.put<{ Params: { file: string } }>(
      `${FIRMWARE_PATH}/:file`,
      { onRequest: async (req) => auth(req) },
      async (req, reply) => {
        const target = fileOf(req.params.file);
        const body = req.body as Readable;
        if (target.kind === 'tarball') {
          const released = fs.existsSync(path.join(store.dir, releaseFileName(target.version)));
          const size = await saveAtomically(
            body,
            target.file,
            MAX_FIRMWARE_BYTES,
            released ? (tmp) => refuseChange(tmp, target) : undefined,
          );
          return reply.code(released ? 200 : 201).send({ file: req.params.file, size });
        }
        const release = await acceptRelease(body, target, store);
        return reply.code(201).send({ file: req.params.file, release });
      },
    );
  });
}

/** A release JSON is kept only if its tarball is already here and both verify with the backend's key. */
async function acceptRelease(
  body: Readable,
  target: { file: string; version: string },
  store: FirmwareStore,
): Promise<unknown> {
  const text = (await readCapped(body, RELEASE_JSON_LIMIT)).toString('utf8');
  let release: unknown;
  try {
    release = JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      'malformed-json',
      `the release is not JSON: upload the ${releaseFileName('<version>')} that "payspeaker image build" wrote`,
    );
  }
  const r = release as { version?: unknown; file?: unknown };
  if (r.version !== target.version) {
    throw new ApiError(
      400,
      'invalid-release',
      `the release's version ${JSON.stringify(r.version)} does not match the file name ${releaseFileName(target.version)}`,
    );
  }
  if (r.file !== tarballName(target.version)) {
    throw new ApiError(
      400,
      'invalid-release',
      `the release's "file" is ${JSON.stringify(r.file)}; it must be ${tarballName(target.version)}`,
    );
  }
  const verdict = verifyReleaseFile(release, path.join(store.dir, tarballName(target.version)), store.publicKey);
  // A release that is not even shaped like one is a bad request, as a wrong version or file above.
  if (!verdict.ok && verdict.problem === 'release-invalid')
    throw new ApiError(
      400,
      'invalid-release',
      `${verdict.reason}: upload the ${releaseFileName('<version>')} that "payspeaker image build" wrote`,
    );
  if (!verdict.ok) {
    const hint =
      verdict.problem === 'file-missing'
        ? `upload ${tarballName(target.version)} first`
        : "build the release again with this broker's key (npx payspeaker image build --data DIR)";
    throw new ApiError(422, `release-${verdict.problem}`, `${verdict.reason}: ${hint}`);
  }
  const tmp = `${target.file}.${process.pid}.${Date.now()}.upload`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, target.file);
  return verdict.release;
}

/**
 * A released version's tarball is what its signed release names (size, sha256) and what
 * speakers download: the same bytes again are fine (a retried upload), other bytes are not.
 */
function refuseChange(uploaded: string, target: { file: string; version: string }): void {
  if (fs.readFileSync(uploaded).equals(fs.readFileSync(target.file))) return;
  throw new ApiError(
    409,
    'release-exists',
    `version ${target.version} is already released with other bytes; a release never changes: build the new firmware with a new --image-version`,
  );
}

/**
 * Streams into a temp file beside `file`, then renames it over: a reader never sees half a file.
 * `check` may refuse the upload (by throwing) before it replaces anything.
 */
async function saveAtomically(
  body: Readable,
  file: string,
  limit: number,
  check?: (tmp: string) => void,
): Promise<number> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.upload`;
  let size = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(size > limit ? tooLarge(limit) : null, chunk);
    },
  });
  try {
    await pipeline(body, cap, fs.createWriteStream(tmp, { mode: 0o644 }));
    check?.(tmp);
    fs.renameSync(tmp, file);
    return size;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

async function readCapped(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): ApiError {
  return new ApiError(
    413,
    'body-too-large',
    `the upload is larger than ${limit} bytes: a firmware release is at most that`,
  );
}

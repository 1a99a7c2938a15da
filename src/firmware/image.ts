/**
 * A firmware image and its release, and how a device (or `payspeaker flash`) decides to trust one.
 *
 *   payspeaker-firmware-<version>/      the image: what one slot holds
 *     manifest.json     {name, version, builtAt, node, entry, loader, files: {path: {sha256, size}}}
 *     manifest.sig      base64 Ed25519 signature over the exact bytes of manifest.json (backend key)
 *     firmware.cjs, boot.cjs, payspeaker.service, voices/…   every other file, each listed in the manifest
 *   payspeaker-firmware-<version>.tar.gz   the image folder's contents at the archive root
 *   payspeaker-firmware-<version>.json     the release: {version, file, sha256, size, signature}
 *
 * The release signature covers `releaseMessage(version, sha256)`, so a device can refuse a
 * download before unpacking anything; the manifest signature covers every file of the image, so
 * a slot can be checked again at any time (after flashing, before booting it).
 *
 * The format only, no file system (image-files.ts reads images on disk): the firmware's OTA
 * extension checks a release with it. Node 18 compatible, node:crypto only.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { VERSION_PATTERN } from '../protocol/versions.ts';

export const IMAGE_NAME = 'payspeaker-firmware';
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';

export interface FileDigest {
  sha256: string;
  size: number;
}

export interface ImageManifest {
  name: typeof IMAGE_NAME;
  version: string;
  /** ISO 8601 time of the build. */
  builtAt: string;
  /** The Node versions the bundle runs on, e.g. ">=18". */
  node: string;
  /** The firmware entry, relative to the image root: "firmware.cjs". */
  entry: string;
  /** The loader, relative to the image root: "boot.cjs" (installed as ROOT/boot.cjs). */
  loader: string;
  /** Every file of the image except the manifest and its signature, by POSIX relative path. */
  files: Record<string, FileDigest>;
}

export interface Release {
  version: string;
  /** The tar.gz's file name, beside the release JSON. */
  file: string;
  /** Hex sha256 of the tar.gz. */
  sha256: string;
  size: number;
  /** Base64 Ed25519 signature over releaseMessage(version, sha256). */
  signature: string;
}

export type ImageProblem =
  | 'manifest-missing'
  | 'manifest-invalid'
  | 'signature-missing'
  | 'signature-invalid'
  | 'file-missing'
  | 'hash-mismatch'
  | 'size-mismatch'
  | 'unexpected-file';

export type ImageVerdict = { ok: true; manifest: ImageManifest } | { ok: false; problem: ImageProblem; reason: string; file?: string };

export type ReleaseProblem = 'release-invalid' | 'signature-invalid' | 'file-missing' | 'size-mismatch' | 'hash-mismatch';

export type ReleaseVerdict = { ok: true; release: Release } | { ok: false; problem: ReleaseProblem; reason: string };

/** Versions are file-name safe (they name the image folder and tarball): semver-ish with an optional +build. */
export { VERSION_PATTERN } from '../protocol/versions.ts';
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

export const imageFolderName = (version: string): string => `${IMAGE_NAME}-${version}`;
export const tarballName = (version: string): string => `${IMAGE_NAME}-${version}.tar.gz`;
export const releaseFileName = (version: string): string => `${IMAGE_NAME}-${version}.json`;

/** The bytes a release signature covers: the name, the version and the tarball's hash, one per line. */
export function releaseMessage(version: string, sha256: string): Buffer {
  return Buffer.from(`${IMAGE_NAME}\n${version}\n${sha256}`, 'utf8');
}

export function signBytes(bytes: Buffer, privateKey: KeyObject): string {
  return sign(null, bytes, privateKey).toString('base64');
}

export function signRelease(version: string, sha256: string, privateKey: KeyObject): string {
  return signBytes(releaseMessage(version, sha256), privateKey);
}

export function verifySignature(bytes: Buffer, signature: string, publicKey: KeyObject): boolean {
  const sig = signature.trim();
  if (!BASE64_PATTERN.test(sig)) return false;
  try {
    return verify(null, bytes, publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/** A manifest path that stays inside the image: relative, POSIX, no "." or ".." segments. */
export function isSafeImagePath(p: string): boolean {
  if (typeof p !== 'string' || p === '' || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Checks a manifest's shape; returns a reason or null. */
export function manifestProblem(m: unknown): string | null {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'it is not a JSON object';
  const o = m as Record<string, unknown>;
  if (o.name !== IMAGE_NAME) return `"name" is ${JSON.stringify(o.name)}, not "${IMAGE_NAME}"`;
  if (typeof o.version !== 'string' || !VERSION_PATTERN.test(o.version)) return `"version" ${JSON.stringify(o.version)} is not a version`;
  for (const key of ['builtAt', 'node', 'entry', 'loader'] as const) {
    if (typeof o[key] !== 'string' || o[key] === '') return `"${key}" is missing`;
  }
  if (typeof o.files !== 'object' || o.files === null || Array.isArray(o.files)) return '"files" is not an object';
  const files = o.files as Record<string, unknown>;
  for (const [p, d] of Object.entries(files)) {
    if (!isSafeImagePath(p) || p === MANIFEST_FILE || p === SIGNATURE_FILE) return `file path ${JSON.stringify(p)} is not allowed in an image`;
    const digest = d as Partial<FileDigest> | null;
    if (!digest || typeof digest.sha256 !== 'string' || !SHA256_PATTERN.test(digest.sha256) || !Number.isSafeInteger(digest.size) || (digest.size as number) < 0) {
      return `file ${p}: needs {sha256: 64 hex digits, size: bytes}`;
    }
  }
  for (const key of ['entry', 'loader'] as const) {
    if (!Object.hasOwn(files, o[key] as string)) return `"${key}" ${JSON.stringify(o[key])} is not among the files`;
  }
  return null;
}

/** Checks a release's shape; returns a reason or null. */
export function releaseProblem(r: unknown): string | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'it is not a JSON object';
  const o = r as Record<string, unknown>;
  if (typeof o.version !== 'string' || !VERSION_PATTERN.test(o.version)) return `"version" ${JSON.stringify(o.version)} is not a version`;
  if (typeof o.file !== 'string' || !isSafeImagePath(o.file) || o.file.includes('/')) return `"file" ${JSON.stringify(o.file)} is not a plain file name`;
  if (typeof o.sha256 !== 'string' || !SHA256_PATTERN.test(o.sha256)) return '"sha256" is not 64 lowercase hex digits';
  if (!Number.isSafeInteger(o.size) || (o.size as number) <= 0) return '"size" is not a positive number of bytes';
  if (typeof o.signature !== 'string' || !BASE64_PATTERN.test(o.signature)) return '"signature" is not base64';
  return null;
}

/** The release is well formed and its signature (over version and sha256) is the backend's. */
export function verifyRelease(release: unknown, backendPublicKey: KeyObject): ReleaseVerdict {
  const shape = releaseProblem(release);
  if (shape) return { ok: false, problem: 'release-invalid', reason: `the release is not valid: ${shape}` };
  const r = release as Release;
  if (!verifySignature(releaseMessage(r.version, r.sha256), r.signature, backendPublicKey)) {
    return { ok: false, problem: 'signature-invalid', reason: `the signature of release ${r.version} does not verify with the backend's public key: it was altered or signed by another backend` };
  }
  return { ok: true, release: r };
}


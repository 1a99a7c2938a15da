/**
 * Writing an image's manifest and its signature (src/firmware/image.ts reads and checks
 * them): every file in the folder, hashed, then the manifest's exact bytes signed with the
 * backend's Ed25519 key. Also for tests that need a correctly signed but broken image: change a
 * file, then sign the folder again.
 */
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  IMAGE_NAME,
  manifestProblem,
  MANIFEST_FILE,
  signBytes,
  SIGNATURE_FILE,
  type ImageManifest,
} from '../../src/firmware/image.ts';
import { hashFile, listImageFiles } from '../../src/firmware/image-files.ts';

export interface SignImageOptions {
  version: string;
  builtAt: string;
  privateKey: KeyObject;
  /** Default "firmware.cjs" and "boot.cjs". */
  entry?: string;
  loader?: string;
}

/** Hashes every file of `dir` (but the manifest and signature), writes manifest.json and manifest.sig. */
export function signImageDir(dir: string, opts: SignImageOptions): ImageManifest {
  const { files, others } = listImageFiles(dir);
  if (others.length > 0)
    throw new Error(`${path.join(dir, others[0]!)} is not a regular file: an image holds plain files only`);
  const digests: ImageManifest['files'] = {};
  for (const f of files)
    if (f !== MANIFEST_FILE && f !== SIGNATURE_FILE) digests[f] = hashFile(path.join(dir, ...f.split('/')));
  const manifest: ImageManifest = {
    name: IMAGE_NAME,
    version: opts.version,
    builtAt: opts.builtAt,
    node: '>=18',
    entry: opts.entry ?? 'firmware.cjs',
    loader: opts.loader ?? 'boot.cjs',
    files: digests,
  };
  const problem = manifestProblem(manifest);
  if (problem) throw new Error(`cannot sign ${dir}: ${problem}`);
  const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), bytes);
  fs.writeFileSync(path.join(dir, SIGNATURE_FILE), `${signBytes(bytes, opts.privateKey)}\n`);
  return manifest;
}

/**
 * An image folder packed for distribution: payspeaker-firmware-<v>.tar.gz (the folder's contents
 * at the archive root) and payspeaker-firmware-<v>.json, the release a device checks before it
 * unpacks anything (src/firmware/image.ts: verifyRelease).
 */
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { releaseFileName, signRelease, tarballName, type Release } from '../../src/firmware/image.ts';
import { hashFile, listImageFiles, readManifest } from '../../src/firmware/image-files.ts';

export interface PackedRelease {
  release: Release;
  /** Absolute paths of what was written. */
  tarball: string;
  releaseFile: string;
}

/** Packs `imageDir` (already signed) into `outDir`, beside it by default. */
export async function packRelease(
  imageDir: string,
  privateKey: KeyObject,
  outDir = path.dirname(imageDir),
): Promise<PackedRelease> {
  const { version } = readManifest(imageDir);
  const tarball = path.join(outDir, tarballName(version));
  const releaseFile = path.join(outDir, releaseFileName(version));
  // Files in sorted order with fixed owners: the same folder packs to the same bytes.
  await tar.c(
    { file: tarball, cwd: imageDir, gzip: true, portable: true, noDirRecurse: true },
    directoriesAndFiles(imageDir),
  );
  const { sha256, size } = hashFile(tarball);
  const release: Release = {
    version,
    file: path.basename(tarball),
    sha256,
    size,
    signature: signRelease(version, sha256, privateKey),
  };
  fs.writeFileSync(releaseFile, `${JSON.stringify(release, null, 2)}\n`);
  return { release, tarball, releaseFile };
}

/** Every folder (each before what it holds) and file, relative: tar entries for noDirRecurse. */
function directoriesAndFiles(dir: string): string[] {
  const entries = new Set<string>();
  for (const f of listImageFiles(dir).files) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) entries.add(parts.slice(0, i).join('/'));
    entries.add(f);
  }
  return [...entries];
}

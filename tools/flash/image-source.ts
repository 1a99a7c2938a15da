/**
 * Which image to flash: --image DIR (an image folder), --image-release FILE.json (a release:
 * its tarball is checked against the signed release, then unpacked to a temp folder), or by
 * default the newest image folder `payspeaker image build` left in ./firmware. Flash never
 * builds one itself: building signs with the backend key, which is a step to take on purpose.
 * Whatever the source, the folder must pass verifyImageDir with the device's backend key
 * before anything is sent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import * as tar from 'tar';
import { IMAGE_NAME, MANIFEST_FILE, type ImageManifest } from '../../src/firmware/image.ts';
import { readManifest, verifyImageDir, verifyReleaseFile } from '../../src/firmware/image-files.ts';
import { FlashError } from './errors.ts';

export interface LocalImage {
  dir: string;
  manifest: ImageManifest;
  /** Sum of the files' sizes. */
  bytes: number;
  /** Where it came from, for the plan: the folder or the release file. */
  source: string;
  /** Removes a temp folder (unpacked release); a no-op otherwise. */
  dispose(): void;
}

export const DEFAULT_IMAGE_FOLDER = 'firmware';

export async function resolveImage(opts: {
  image?: string;
  release?: string;
  cwd: string;
  backendPublicKey: KeyObject;
}): Promise<LocalImage> {
  if (opts.image && opts.release)
    throw new FlashError('input', 'pass either --image DIR or --image-release FILE.json, not both');
  if (opts.release) return fromRelease(path.resolve(opts.cwd, opts.release), opts.backendPublicKey);
  const dir = opts.image ? path.resolve(opts.cwd, opts.image) : newestImage(path.join(opts.cwd, DEFAULT_IMAGE_FOLDER));
  return checked(dir, dir, opts.backendPublicKey, () => {});
}

function checked(dir: string, source: string, key: KeyObject, dispose: () => void): LocalImage {
  if (!fs.existsSync(dir))
    throw new FlashError(
      'input',
      `--image ${dir}: no such folder: pass an image folder from "npx payspeaker image build" (./firmware/${IMAGE_NAME}-<version>)`,
    );
  const verdict = verifyImageDir(dir, key);
  if (!verdict.ok) {
    dispose();
    throw new FlashError('input', `the image was refused before anything was sent: ${verdict.reason}`, {
      problem: verdict.problem,
      ...(verdict.file ? { file: verdict.file } : {}),
    });
  }
  const bytes = Object.values(verdict.manifest.files).reduce((n, f) => n + f.size, 0);
  return { dir, manifest: verdict.manifest, bytes, source, dispose };
}

/** The image folder in `folder` with the latest build time. */
function newestImage(folder: string): string {
  let best: { dir: string; builtAt: string } | null = null;
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(folder);
  } catch {
    // no ./firmware: reported below
  }
  for (const name of entries) {
    const dir = path.join(folder, name);
    if (!name.startsWith(`${IMAGE_NAME}-`) || !fs.existsSync(path.join(dir, MANIFEST_FILE))) continue;
    try {
      const m = readManifest(dir);
      if (!best || m.builtAt > best.builtAt) best = { dir, builtAt: m.builtAt };
    } catch {
      // a damaged folder is not a candidate
    }
  }
  if (!best)
    throw new FlashError(
      'input',
      `no firmware image in ${folder}: build one (npx payspeaker image build) or pass --image DIR or --image-release FILE.json`,
    );
  return best.dir;
}

async function fromRelease(file: string, key: KeyObject): Promise<LocalImage> {
  let release: unknown;
  try {
    release = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FlashError(
      'input',
      `--image-release ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}: pass the .json "image build" wrote beside the tarball`,
    );
  }
  const tarball = path.join(path.dirname(file), String((release as { file?: unknown } | null)?.file ?? ''));
  const verdict = verifyReleaseFile(release, tarball, key);
  if (!verdict.ok)
    throw new FlashError('input', `--image-release ${file} was refused before anything was sent: ${verdict.reason}`, {
      problem: verdict.problem,
    });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-flash-image-'));
  const dispose = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await tar.x({ file: tarball, cwd: dir, strict: true });
  } catch (err) {
    dispose();
    throw new FlashError('input', `cannot unpack ${tarball}: ${(err as Error).message}`);
  }
  return checked(dir, file, key, dispose);
}

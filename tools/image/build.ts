/**
 * `payspeaker image build`: a versioned firmware image, ready to flash or to send over the air.
 *
 *   OUT/payspeaker-firmware-<v>/          firmware.cjs, boot.cjs, voices/<lang>/…, payspeaker.service,
 *                                         node_modules/@echogarden/espeak-ng-emscripten/… (unless --no-espeak),
 *                                         manifest.json, manifest.sig
 *   OUT/payspeaker-firmware-<v>.tar.gz    the folder's contents at the archive root
 *   OUT/payspeaker-firmware-<v>.json      the release: version, file, sha256, size, signature
 *
 * The folder is assembled under a temporary name and renamed into place when complete, so a
 * folder with the image's name is always a whole image.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createEspeakEngine, ESPEAK_PACKAGE } from '../../src/audio/tts/espeak.ts';
import { silentLogger, type Logger } from '../../src/log.ts';
import { LANGUAGES, type Language } from '../../src/speech/index.ts';
import { VERSION } from '../../src/version.ts';
import { ensureVoicePack } from '../../src/voice/index.ts';
import { imageFolderName, VERSION_PATTERN, type ImageManifest, type Release } from '../../src/firmware/image.ts';
import { verifyImageDir } from '../../src/firmware/image-files.ts';
import { ESPEAK_DIR, voicePackDir } from '../../device/boot/voice.ts';
import { bundle, FIRMWARE_SOURCE, LOADER_SOURCE } from './bundle.ts';
import { signImageDir } from './manifest.ts';
import { packRelease } from './release.ts';
import { SERVICE_UNIT_FILE, SERVICE_UNIT_TEMPLATE } from './service-unit.ts';

export interface BuildImageOptions {
  /** Where the image folder, tarball and release go. */
  outDir: string;
  /** Default: package version + "+" + UTC build time (yyyymmddHHMMss). */
  version?: string;
  /** The backend's Ed25519 private key (DATA/broker/backend-key.pem). */
  privateKey: KeyObject;
  /** The voice packs to carry; default all languages. */
  langs?: readonly Language[];
  /** Carry eSpeak (24 MB) for sentences a pack has no clips for; default true. */
  espeak?: boolean;
  /** Where cached voice packs are found (and recorded if missing); default the user cache. */
  voicePackDir?: string;
  /** Replace an image of the same version in outDir. */
  force?: boolean;
  now?: () => Date;
  log?: Logger;
  /** One line per step, for the user (stderr). */
  onProgress?: (line: string) => void;
}

export interface BuiltImage {
  version: string;
  /** The image folder. */
  dir: string;
  tarball: string;
  releaseFile: string;
  release: Release;
  manifest: ImageManifest;
}

/** 20240131235959: sorts, and is a valid semver build suffix. */
export function buildStamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export async function buildImage(opts: BuildImageOptions): Promise<BuiltImage> {
  const now = (opts.now ?? (() => new Date()))();
  const version = opts.version ?? `${VERSION}+${buildStamp(now)}`;
  if (!VERSION_PATTERN.test(version))
    throw new Error(
      `version ${JSON.stringify(version)} is not usable: 1-64 letters, digits, ".", "+", "_" or "-", starting with a letter or digit (e.g. 1.2.0)`,
    );
  const langs = opts.langs ?? LANGUAGES;
  const progress = opts.onProgress ?? (() => undefined);
  const outDir = path.resolve(opts.outDir);
  const dir = path.join(outDir, imageFolderName(version));
  if (fs.existsSync(dir) && !opts.force)
    throw new Error(`${dir} already exists: choose another version (--image-version), or pass --force to replace it`);
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(outDir, `.building-${imageFolderName(version)}-`));
  let verified: ImageManifest;
  try {
    progress(`bundling the firmware for Node 18 (esbuild)…`);
    const fw = await bundle(FIRMWARE_SOURCE, path.join(tmp, 'firmware.cjs'));
    const loader = await bundle(LOADER_SOURCE, path.join(tmp, 'boot.cjs'));
    for (const w of [...fw.warnings, ...loader.warnings]) (opts.log ?? silentLogger).warn(`esbuild: ${w}`);
    progress(`firmware.cjs ${kb(fw.bytes)}, boot.cjs ${kb(loader.bytes)}`);
    await copyVoicePacks(tmp, langs, opts, progress);
    if (opts.espeak ?? true) copyEspeak(tmp, progress);
    fs.writeFileSync(path.join(tmp, SERVICE_UNIT_FILE), SERVICE_UNIT_TEMPLATE);
    const manifest = signImageDir(tmp, { version, builtAt: now.toISOString(), privateKey: opts.privateKey });
    progress(`manifest: ${Object.keys(manifest.files).length} files, signed with the backend key`);
    fs.chmodSync(tmp, 0o755); // mkdtemp made it private; an image is not secret
    // What we sign we check, before anything lands in --out: a build that does not verify with its own key must not ship.
    const check = verifyImageDir(tmp, createPublicKey(opts.privateKey));
    if (!check.ok) throw new Error(`the image just built does not verify: ${check.reason}`);
    verified = check.manifest;
    if (opts.force) fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  progress(`packing ${imageFolderName(version)}.tar.gz…`);
  const packed = await packRelease(dir, opts.privateKey, outDir);
  return {
    version,
    dir,
    tarball: packed.tarball,
    releaseFile: packed.releaseFile,
    release: packed.release,
    manifest: verified,
  };
}

async function copyVoicePacks(
  imageDir: string,
  langs: readonly Language[],
  opts: BuildImageOptions,
  progress: (line: string) => void,
): Promise<void> {
  const engine = createEspeakEngine();
  for (const lang of langs) {
    const pack = await ensureVoicePack(lang, { engine, cacheDir: opts.voicePackDir, log: opts.log });
    fs.cpSync(pack.dir, voicePackDir(imageDir, lang), { recursive: true });
    progress(`voice pack ${lang}: ${pack.clips.size} clips, ${kb(pack.bytes)}`);
  }
}

/** The eSpeak package's shipped files, where node's module lookup finds them from firmware.cjs. */
function copyEspeak(imageDir: string, progress: (line: string) => void): void {
  let pkgJson: string;
  try {
    pkgJson = createRequire(import.meta.url).resolve(`${ESPEAK_PACKAGE}/package.json`);
  } catch {
    throw new Error(
      `${ESPEAK_PACKAGE} is not installed, so the image cannot carry eSpeak: run \`npm install ${ESPEAK_PACKAGE}\`, or build with --no-espeak`,
    );
  }
  const from = path.dirname(pkgJson);
  const to = path.join(imageDir, ...ESPEAK_DIR.split('/'));
  const { files = [] } = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { files?: string[] };
  fs.mkdirSync(to, { recursive: true });
  let bytes = 0;
  for (const f of ['package.json', ...files]) {
    fs.copyFileSync(path.join(from, f), path.join(to, f));
    bytes += fs.statSync(path.join(to, f)).size;
  }
  progress(`eSpeak NG (GPL-3.0, COPYING included): ${kb(bytes)}`);
}

function kb(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

/**
 * A firmware image on disk: hashing its files, reading its manifest, and checking a folder (a
 * slot, a build) or a downloaded tarball against its signed manifest or release. The format
 * itself (names, manifest and release shapes, signatures) is image.ts; this is the part that
 * needs a file system, used by the boot layer, the slots driver, the broker and the tools.
 *
 * Node 18 compatible: the firmware bundle carries this file.
 */
import { createHash, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  manifestProblem,
  verifyRelease,
  verifySignature,
  MANIFEST_FILE,
  SIGNATURE_FILE,
  type FileDigest,
  type ImageManifest,
  type ImageProblem,
  type ImageVerdict,
  type ReleaseVerdict,
} from './image.ts';

export function hashFile(file: string): FileDigest {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 16);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Every entry under `dir`, as sorted POSIX relative paths. Anything but a regular file or folder
 * (a symlink, a device) is reported under `others`: an image holds plain files only, so a link
 * cannot point a slot at something the manifest never covered.
 */
export function listImageFiles(dir: string): { files: string[]; others: string[] } {
  const files: string[] = [];
  const others: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(name);
      else if (entry.isFile()) files.push(name);
      else others.push(name);
    }
  };
  walk('');
  return { files: files.sort(), others: others.sort() };
}

/** Reads dir/manifest.json without checking its signature (e.g. to show a version). */
export function readManifest(dir: string): ImageManifest {
  const file = path.join(dir, MANIFEST_FILE);
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const problem = manifestProblem(parsed);
  if (problem) throw new Error(`${file}: ${problem}: build the image again (npx payspeaker image build)`);
  return parsed as ImageManifest;
}

/**
 * Whether `dir` holds exactly the image its signed manifest describes: the signature verifies
 * with the backend's public key, every listed file is there with its size and sha256, and no
 * other file is. The first problem found is returned, named and with the file concerned.
 */
export function verifyImageDir(dir: string, backendPublicKey: KeyObject): ImageVerdict {
  const fail = (problem: ImageProblem, reason: string, file?: string): ImageVerdict => ({ ok: false, problem, reason, ...(file ? { file } : {}) });
  let manifestBytes: Buffer;
  try {
    manifestBytes = fs.readFileSync(path.join(dir, MANIFEST_FILE));
  } catch {
    return fail('manifest-missing', `${dir} has no ${MANIFEST_FILE}: it is not a payspeaker firmware image`, MANIFEST_FILE);
  }
  let signature: string;
  try {
    signature = fs.readFileSync(path.join(dir, SIGNATURE_FILE), 'utf8');
  } catch {
    return fail('signature-missing', `${dir} has no ${SIGNATURE_FILE}: the image is unsigned; build it with the backend's key`, SIGNATURE_FILE);
  }
  if (!verifySignature(manifestBytes, signature, backendPublicKey)) {
    return fail('signature-invalid', `the manifest signature of ${dir} does not verify with the backend's public key: the image was altered or signed by another backend`, MANIFEST_FILE);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8'));
  } catch (err) {
    return fail('manifest-invalid', `${MANIFEST_FILE} of ${dir} is not JSON (${(err as Error).message})`, MANIFEST_FILE);
  }
  const shape = manifestProblem(manifest);
  if (shape) return fail('manifest-invalid', `${MANIFEST_FILE} of ${dir}: ${shape}`, MANIFEST_FILE);
  const m = manifest as ImageManifest;
  const { files, others } = listImageFiles(dir);
  if (others.length > 0) return fail('unexpected-file', `${others[0]} in ${dir} is not a regular file: an image holds plain files only`, others[0]);
  const present = new Set(files);
  for (const [p, want] of Object.entries(m.files)) {
    if (!present.has(p)) return fail('file-missing', `${p} is listed in the manifest but missing from ${dir}`, p);
    const got = hashFile(path.join(dir, ...p.split('/')));
    if (got.size !== want.size) return fail('size-mismatch', `${p} in ${dir} is ${got.size} bytes, the manifest says ${want.size}: the file was altered or cut short`, p);
    if (got.sha256 !== want.sha256) return fail('hash-mismatch', `${p} in ${dir} does not match its sha256 in the manifest: the file was altered`, p);
  }
  for (const p of files) {
    if (p !== MANIFEST_FILE && p !== SIGNATURE_FILE && !Object.hasOwn(m.files, p)) return fail('unexpected-file', `${p} in ${dir} is not listed in the manifest`, p);
  }
  return { ok: true, manifest: m };
}

/** verifyRelease, plus the tarball at `file` has the release's size and sha256. */
export function verifyReleaseFile(release: unknown, file: string, backendPublicKey: KeyObject): ReleaseVerdict {
  const verdict = verifyRelease(release, backendPublicKey);
  if (!verdict.ok) return verdict;
  const r = verdict.release;
  let got: FileDigest;
  try {
    got = hashFile(file);
  } catch {
    return { ok: false, problem: 'file-missing', reason: `the release's tarball ${file} cannot be read: keep it beside the release JSON` };
  }
  if (got.size !== r.size) return { ok: false, problem: 'size-mismatch', reason: `${file} is ${got.size} bytes, release ${r.version} says ${r.size}: the download was cut short or altered` };
  if (got.sha256 !== r.sha256) return { ok: false, problem: 'hash-mismatch', reason: `the sha256 of ${file} is not release ${r.version}'s: the tarball was altered` };
  return verdict;
}

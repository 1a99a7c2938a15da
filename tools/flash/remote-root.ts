/**
 * The device's ROOT (slots.ts's layout) seen over SSH: its boot state, its slots, its config.
 * Everything the loader reads is replaced atomically, as the loader itself does it.
 */
import path from 'node:path';
import { MANIFEST_FILE, SIGNATURE_FILE, type FileDigest, type ImageManifest } from '../../src/firmware/image.ts';
import { hashFile } from '../../src/firmware/image-files.ts';
import { initialState, SLOTS, type BootState, type Slot } from '../../device/boot/slots.ts';
import { FlashError } from './errors.ts';
import { putFile, readRemoteFile, writeRemoteFileAtomic } from './sftp.ts';
import type { SshSession } from './ssh.ts';

/** POSIX paths on the device (path.posix: the flashing machine may be Windows). */
export function remotePaths(root: string) {
  const p = path.posix;
  return {
    root,
    loader: p.join(root, 'boot.cjs'),
    state: p.join(root, 'state.json'),
    slot: (s: Slot) => p.join(root, 'slots', s),
    /** Where an upload lands before it replaces the slot. */
    incoming: (s: Slot) => p.join(root, 'slots', `.incoming-${s}`),
    config: p.join(root, 'config', 'device.json'),
    data: p.join(root, 'data'),
    run: p.join(root, 'run'),
  };
}

/** 'it'\''s' — one argument for the remote shell, whatever it holds. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export const MIN_NODE_MAJOR = 18;

export interface RemoteSystem {
  uid: number;
  nodePath: string;
  nodeVersion: string;
  hasSystemd: boolean;
}

export async function inspectSystem(ssh: SshSession): Promise<RemoteSystem> {
  const r = await ssh.exec(
    'id -u; command -v node || echo; node --version 2>/dev/null || echo; command -v systemctl || echo',
    { timeoutMs: 20_000 },
  );
  const [uid = '', nodePath = '', nodeVersion = '', systemctl = ''] = r.stdout.split('\n').map((l) => l.trim());
  const host = ssh.target.host;
  if (!nodePath || !nodeVersion) {
    throw new FlashError(
      'remote',
      `Node.js is not installed on ${host} (no "node" on the PATH of ${ssh.target.user}): install Node 18+: sudo apt install nodejs`,
    );
  }
  const major = Number(/^v(\d+)\./.exec(nodeVersion)?.[1]);
  if (!(major >= MIN_NODE_MAJOR)) {
    throw new FlashError(
      'remote',
      `${host} runs Node ${nodeVersion} (${nodePath}); the firmware needs ${MIN_NODE_MAJOR} or newer: install Node 18+: sudo apt install nodejs`,
    );
  }
  return { uid: Number(uid), nodePath, nodeVersion, hasSystemd: systemctl !== '' };
}

/** ROOT/state.json, or a fresh device's state if there is none yet. */
export async function readRemoteState(ssh: SshSession, root: string): Promise<{ state: BootState; fresh: boolean }> {
  const file = remotePaths(root).state;
  const bytes = await readRemoteFile(await ssh.sftp(), file).catch((err: Error) => {
    throw new FlashError('remote', err.message);
  });
  if (!bytes) return { state: initialState(), fresh: true };
  let state: BootState;
  try {
    state = JSON.parse(bytes.toString('utf8')) as BootState;
  } catch (err) {
    throw new FlashError(
      'remote',
      `${file} on ${ssh.target.host} is not JSON (${(err as Error).message}): remove it to flash the device as new (both slots are then rewritten over time)`,
    );
  }
  if (
    state?.v !== 1 ||
    !SLOTS.includes(state.active) ||
    typeof state.versions !== 'object' ||
    state.versions === null
  ) {
    throw new FlashError(
      'remote',
      `${file} on ${ssh.target.host} is not a payspeaker boot state (v ${String(state?.v)}): remove it to flash the device as new`,
    );
  }
  return { state, fresh: false };
}

export async function writeRemoteState(ssh: SshSession, root: string, state: BootState): Promise<void> {
  await writeRemoteFileAtomic(await ssh.sftp(), remotePaths(root).state, `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

/** ROOT and its folders; a root the user may not create (e.g. /opt) is made with sudo -n and handed to them. */
export async function prepareRoot(ssh: SshSession, root: string, uid: number): Promise<void> {
  const p = remotePaths(root);
  const dirs = [path.posix.join(root, 'slots'), path.posix.dirname(p.config), p.data, p.run].map(shellQuote).join(' ');
  const mk = await ssh.exec(`mkdir -p ${dirs}`);
  if (mk.code === 0) return;
  if (uid !== 0) {
    const sudo = await ssh.exec(
      `sudo -n install -d -o "$(id -u)" -g "$(id -g)" ${shellQuote(root)} && mkdir -p ${dirs}`,
    );
    if (sudo.code === 0) return;
  }
  throw new FlashError(
    'remote',
    `cannot create ${root} on ${ssh.target.host} (${mk.stderr.trim()}): create it for ${ssh.target.user} (sudo install -d -o ${ssh.target.user} ${root}), allow sudo without a password, or pass --root`,
  );
}

export interface UploadProgress {
  files: number;
  bytes: number;
}

/**
 * Puts the image into `slot`: uploaded to slots/.incoming-<slot> (cleared first), checked
 * there file by file against the local hashes by Node on the device, synced to disk, and only
 * then renamed over the slot. The slot is never half written.
 */
export async function uploadSlot(
  ssh: SshSession,
  root: string,
  slot: Slot,
  image: { dir: string; manifest: ImageManifest },
  onFile?: (p: UploadProgress) => void,
): Promise<void> {
  const p = remotePaths(root);
  const incoming = p.incoming(slot);
  const expected = expectedFiles(image.dir, image.manifest);
  const names = Object.keys(expected);
  const dirs = [...new Set(names.map((n) => path.posix.dirname(n)).filter((d) => d !== '.'))].map((d) =>
    shellQuote(path.posix.join(incoming, d)),
  );
  await ssh.run(
    `rm -rf ${shellQuote(incoming)} && mkdir -p ${shellQuote(incoming)} ${dirs.join(' ')}`,
    `clearing ${incoming}`,
  );
  const sftp = await ssh.sftp();
  const done: UploadProgress = { files: 0, bytes: 0 };
  const queue = [...names];
  const worker = async (): Promise<void> => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      await putFile(sftp, path.join(image.dir, ...name.split('/')), path.posix.join(incoming, name), 0o644).catch(
        (err: Error) => {
          throw new FlashError('remote', `${err.message} on ${ssh.target.host}`);
        },
      );
      done.files++;
      done.bytes += expected[name]!.size;
      onFile?.(done);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  await checkRemoteFiles(ssh, incoming, expected);
  await ssh.run(
    `sync && rm -rf ${shellQuote(p.slot(slot))} && mv ${shellQuote(incoming)} ${shellQuote(p.slot(slot))} && sync`,
    `moving the upload into ${p.slot(slot)}`,
  );
}

function expectedFiles(dir: string, manifest: ImageManifest): Record<string, FileDigest> {
  return {
    ...manifest.files,
    [MANIFEST_FILE]: hashFile(path.join(dir, MANIFEST_FILE)),
    [SIGNATURE_FILE]: hashFile(path.join(dir, SIGNATURE_FILE)),
  };
}

/** Node 18 on the device hashes every file of a folder; printed as {path: {sha256, size}}. */
const HASH_TREE = `const c=require('crypto'),f=require('fs'),p=require('path'),d=process.argv[1],o={};
const w=(r)=>{for(const e of f.readdirSync(p.join(d,r),{withFileTypes:true})){const n=r?r+'/'+e.name:e.name;
if(e.isDirectory())w(n);else if(e.isFile()){const b=f.readFileSync(p.join(d,n));o[n]={sha256:c.createHash('sha256').update(b).digest('hex'),size:b.length}}else o[n]=null}};
w('');process.stdout.write(JSON.stringify(o))`;

async function checkRemoteFiles(ssh: SshSession, dir: string, expected: Record<string, FileDigest>): Promise<void> {
  const out = await ssh.run(`node -e ${shellQuote(HASH_TREE)} ${shellQuote(dir)}`, `checking the upload in ${dir}`, {
    timeoutMs: 120_000,
  });
  const got = JSON.parse(out) as Record<string, FileDigest | null>;
  for (const [name, want] of Object.entries(expected)) {
    const have = got[name];
    if (!have)
      throw new FlashError(
        'remote',
        `${name} is missing in ${dir} on ${ssh.target.host} after the upload: the disk may be full; run flash again`,
      );
    if (have.size !== want.size || have.sha256 !== want.sha256) {
      throw new FlashError(
        'remote',
        `${name} in ${dir} on ${ssh.target.host} does not match the image after the upload (${have.size} of ${want.size} bytes): the disk may be full or failing; run flash again`,
      );
    }
  }
  const extra = Object.keys(got).find((n) => !expected[n]);
  if (extra)
    throw new FlashError(
      'remote',
      `${extra} appeared in ${dir} on ${ssh.target.host} during the upload: is another flash running?`,
    );
}

/** ROOT/boot.cjs from the slot just written: copied beside, then renamed over the old loader. */
export async function installLoader(ssh: SshSession, root: string, slot: Slot, manifest: ImageManifest): Promise<void> {
  const p = remotePaths(root);
  const tmp = `${p.loader}.flash-${process.pid}.tmp`;
  const from = path.posix.join(p.slot(slot), manifest.loader);
  await ssh.run(
    `cp ${shellQuote(from)} ${shellQuote(tmp)} && sync && mv -f ${shellQuote(tmp)} ${shellQuote(p.loader)}`,
    `installing ${p.loader}`,
  );
}

/**
 * ROOT/config/device.json, 0600: it holds the device's MQTT password. The one it replaces is
 * kept as device.json.prev, so a rollback can give the old firmware its old config back (a
 * wrong broker or pin in the new one must not keep the old version off the air too).
 */
export async function writeDeviceConfig(ssh: SshSession, root: string, bytes: Buffer): Promise<void> {
  const config = remotePaths(root).config;
  await ssh.run(
    `if [ -f ${shellQuote(config)} ]; then cp -p ${shellQuote(config)} ${shellQuote(`${config}.prev`)}; fi`,
    `keeping the previous ${config}`,
  );
  await writeRemoteFileAtomic(await ssh.sftp(), config, bytes, 0o600);
}

/** Puts back the config writeDeviceConfig replaced, if there was one. */
export async function restoreDeviceConfig(ssh: SshSession, root: string): Promise<boolean> {
  const config = remotePaths(root).config;
  const out = await ssh.run(
    `if [ -f ${shellQuote(`${config}.prev`)} ]; then mv -f ${shellQuote(`${config}.prev`)} ${shellQuote(config)} && sync && echo restored; fi`,
    `restoring the previous ${config}`,
  );
  return out.trim() === 'restored';
}

/**
 * FirmwareSlots over the A/B install on disk (device/boot/slots.ts): what the over-the-air
 * updater may do to ROOT, and nothing more. Downloads go to a temporary file in ROOT/slots/
 * (beside the slots, on the same disk), never into a slot; only `install` writes the inactive
 * slot, and only the inactive one.
 *
 * Node 18 compatible: the firmware bundle carries this file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { x as extractTar } from 'tar';
import type { FirmwareDownload, FirmwareInstall, FirmwareSlots, FirmwareStatus } from '../board.ts';
import {
  beginTrial,
  confirm,
  inactiveSlot,
  readState,
  rootPaths,
  updateState,
  SLOTS,
  type BootState,
  type Slot,
} from '../boot/slots.ts';
import { verifyImageDir } from '../../src/firmware/image-files.ts';
import { downloadInto } from './firmware-download.ts';

export interface FirmwareSlotsOptions {
  /** The install's root folder (PAYSPEAKER_ROOT). */
  root: string;
  /** The slot this firmware was started from (PAYSPEAKER_SLOT). */
  slot: Slot;
  /** Ends this firmware so the loader boots the active slot. Default: SIGTERM to ourselves, which stops the speaker cleanly. */
  restart?: () => void;
  now?: () => number;
}

/**
 * The slots driver for a firmware started by the loader, from its environment; null when it was
 * not (a laptop, a test), so the board has no `firmware` and OTA says to flash the device first.
 */
export function firmwareSlotsFromEnv(env: NodeJS.ProcessEnv = process.env): FirmwareSlots | null {
  const root = env.PAYSPEAKER_ROOT;
  const slot = env.PAYSPEAKER_SLOT as Slot | undefined;
  if (!root || !slot || !SLOTS.includes(slot)) return null;
  return createFirmwareSlots({ root, slot });
}

export function createFirmwareSlots(opts: FirmwareSlotsOptions): FirmwareSlots {
  const { root, slot: running } = opts;
  const now = opts.now ?? Date.now;
  const paths = rootPaths(root);
  let downloads = 0;
  const change = (fn: (s: BootState) => BootState): BootState => updateState(root, fn);

  return {
    status(): FirmwareStatus {
      return { running, boot: readState(root) };
    },

    async download(url, limits) {
      const dir = path.dirname(paths.slot(running));
      fs.mkdirSync(dir, { recursive: true });
      // A download a crash or power cut interrupted is of no use: do not let them fill the card.
      for (const stale of fs.readdirSync(dir).filter((f) => f.startsWith('.ota-download-')))
        fs.rmSync(path.join(dir, stale), { force: true });
      const download = new TempDownload(path.join(dir, `.ota-download-${process.pid}-${++downloads}.tar.gz`));
      try {
        return { download, sha256: await downloadInto(url, download.stream, limits) };
      } catch (err) {
        download.discard();
        throw err;
      }
    },

    async install(download, expect): Promise<FirmwareInstall> {
      const slot = inactiveSlot(readState(root));
      if (!(download instanceof TempDownload))
        return { ok: false, slot, reason: 'the download was not made by this driver' };
      const { file } = download;
      if (slot === running)
        return { ok: false, slot, reason: `slot ${slot} is the one running: it cannot be overwritten` };
      // The slot's old version is gone from the moment we start clearing it: say so first.
      change((s) => ({ ...s, versions: { ...s.versions, [slot]: null } }));
      const dir = paths.slot(slot);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const fail = (reason: string): FirmwareInstall => {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        return { ok: false, slot, reason };
      };
      try {
        // Plain files and folders only: node-tar already refuses absolute paths and "..", and a
        // link could point the slot at something the manifest never covered.
        await extractTar({
          file,
          cwd: dir,
          strict: true,
          filter: (_p, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory'),
        });
      } catch (err) {
        return fail(`the download is not a readable tar.gz (${(err as Error).message})`);
      }
      const verdict = verifyImageDir(dir, expect.backendPublicKey);
      if (!verdict.ok) return fail(verdict.reason);
      if (verdict.manifest.version !== expect.version) {
        return fail(
          `the image in the download is version ${verdict.manifest.version}, the release says ${expect.version}`,
        );
      }
      fsyncTree(dir);
      return { ok: true, slot, version: verdict.manifest.version };
    },

    beginTrial(t) {
      change((s) => beginTrial(s, { ...t, slot: inactiveSlot(s), now: now() }));
    },

    confirm() {
      if (readState(root).trial?.slot !== running) return;
      change((s) => (s.trial?.slot === running ? confirm(s, now()) : s));
    },

    markReported() {
      change((s) => (s.last ? { ...s, last: { ...s.last, reported: true } } : s));
    },

    restart() {
      (opts.restart ?? (() => process.kill(process.pid, 'SIGTERM')))();
    },
  };
}

class TempDownload implements FirmwareDownload {
  readonly stream: fs.WriteStream;

  constructor(readonly file: string) {
    // Opened here, not on the stream's next tick: a discard right away must find the file to remove.
    this.stream = fs.createWriteStream(file, { fd: fs.openSync(file, 'w', 0o600) });
  }

  discard(): void {
    this.stream.destroy();
    fs.rmSync(this.file, { force: true });
  }
}

/** The new slot must survive a power cut right after the state switches to it. */
function fsyncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(p);
    else if (entry.isFile()) fsyncPath(p);
  }
  fsyncPath(dir);
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

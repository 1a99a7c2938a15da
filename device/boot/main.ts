/**
 * The firmware entry on an installed speaker (a Raspberry Pi): bundled into firmware.cjs and run
 * by the loader (boot.cjs) as `node ROOT/slots/<slot>/firmware.cjs` with PAYSPEAKER_ROOT and
 * PAYSPEAKER_SLOT set. Reads ROOT/config/device.json, keeps its NVS in ROOT/data, reports the
 * slot's image version in its retained state, and confirms a trial once it is online, so the
 * loader keeps the new image instead of rolling it back.
 *
 * Node 18 compatible: this is what runs on the device.
 */
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { deviceNvsFile } from '../../src/config.ts';
import { VERSION } from '../../src/version.ts';
import type { FirmwareSlots } from '../board.ts';
import { Trust } from '../trust.ts';
import { firmwareSlotsFromEnv } from '../drivers/firmware-slots.ts';
import { composeSpeaker } from './compose.ts';
import { DeviceConfigError } from './device-config.ts';
import { loadFirmwareConfig, type FirmwareConfig } from './firmware-config.ts';
import { readManifest } from '../../src/firmware/image-files.ts';
import { rootPaths, SLOTS, type Slot } from './slots.ts';
import { nodeVerifyingKey } from '../../src/protocol/signing-node.ts';

/** Where this firmware runs from: the loader says so; run by hand, the file's own place tells. */
function whereAmI(): { root: string; slot: Slot | null; imageDir: string } {
  const envSlot = process.env.PAYSPEAKER_SLOT;
  const slot = SLOTS.find((s) => s === envSlot) ?? null;
  const imageDir = path.dirname(path.resolve(process.argv[1] ?? '.'));
  const root = process.env.PAYSPEAKER_ROOT
    ? path.resolve(process.env.PAYSPEAKER_ROOT)
    : path.resolve(imageDir, '..', '..');
  return { root, slot, imageDir: slot ? rootPaths(root).slot(slot) : imageDir };
}

function imageVersion(imageDir: string, log: Logger): string {
  try {
    return readManifest(imageDir).version;
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      `cannot read the image manifest in ${imageDir}; reporting version ${VERSION}`,
    );
    return VERSION;
  }
}

function loadConfigOrExit(file: string): FirmwareConfig {
  try {
    return loadFirmwareConfig(file);
  } catch (err) {
    if (!(err instanceof DeviceConfigError)) throw err;
    process.stderr.write(`payspeaker firmware: bad device config: ${err.message}\n`);
    process.exit(2);
  }
}

/**
 * Keeps the trial's image: called once the speaker is online for the first time after a boot.
 * (The OTA extension confirms through the same driver when it reports the outcome; whichever
 * comes first wins, the other is a no-op.)
 */
function confirmTrial(firmware: FirmwareSlots, version: string, log: Logger): void {
  const { running, boot } = firmware.status();
  if (boot.trial?.slot !== running) return;
  firmware.confirm();
  log.info({ slot: running, version }, `online: trial of ${version} in slot ${running} confirmed`);
}

/**
 * The loader is our parent. If it dies (SIGKILL, a crash) we would run on unsupervised and hold
 * the device's MQTT session against the loader's next child: stop instead.
 */
function watchParent(onGone: () => void): void {
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && onGone(), 2000).unref();
}

async function main(): Promise<void> {
  const { root, slot, imageDir } = whereAmI();
  const paths = rootPaths(root);
  const log = pino(
    { name: 'firmware', level: process.env.PAYSPEAKER_LOG_LEVEL ?? 'info' },
    pino.destination({ dest: 1, sync: true }),
  );
  const config = loadConfigOrExit(paths.config);
  const version = imageVersion(imageDir, log);
  log.info(
    { root, slot, version, device: config.id, board: config.board, lang: config.lang },
    `payspeaker firmware ${version} starting`,
  );
  const firmware = firmwareSlotsFromEnv();
  const { speaker } = await composeSpeaker({
    id: config.id,
    broker: config.broker,
    lang: config.lang,
    board: {
      kind: config.board,
      audio: config.audio,
      pi: config.pi,
      nvsFile: deviceNvsFile(paths.data, config.id),
      fallbackDir: path.join(paths.data, 'out'),
      firmware,
    },
    voice: { kind: 'image', dir: imageDir },
    trust: new Trust({ publicKey: config.backendPublicKey && nodeVerifyingKey(config.backendPublicKey) }),
    credentials: { username: config.username, password: config.password },
    ca: config.ca,
    firmwareVersion: version,
    log,
  });
  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'stopping');
    // A speaker that cannot say goodbye in time must still let the loader move on.
    setTimeout(() => process.exit(1), 15_000).unref();
    speaker.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  speaker.on('event', (e) => {
    if (e.event === 'online' || e.event === 'offline')
      log.info({ broker: e.broker }, `${e.event}: ${config.id} firmware ${version}`);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  watchParent(() => shutdown('the loader is gone'));
  await speaker.start();
  if (!stopping && firmware) confirmTrial(firmware, version, log);
}

main().catch((err: Error) => {
  process.stderr.write(`payspeaker firmware: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

/**
 * Over-the-air update: the `ota` command carries a firmware release (URL, version, sha256, size,
 * signature). The speaker checks the signature, downloads the tar.gz to a temporary file, checks
 * its size and sha256, and only then writes the inactive slot (board.firmware), checks the image
 * against its signed manifest, puts the slot on trial and restarts into it. After the restart,
 * whichever firmware runs — the new one once online, or the old one after the loader rolled
 * back — reports the outcome as a second result of the same command. See docs/OTA.md.
 */
import {
  isOlderVersion,
  OTA_COMMAND,
  OTA_DEADLINE,
  PROTOCOL_VERSION,
  type FirmwareReport,
  type OtaCommand,
} from '../../src/protocol/index.ts';
import { tarballName, verifyRelease } from '../../src/firmware/image.ts';
import type { FirmwareSlots } from '../board.ts';
import type { CommandHandler, Extension, FirmwareContext } from '../context.ts';
import { publicKeyFromString } from '../../src/protocol/signing-node.ts';

export interface OtaOptions {
  /** The whole download must finish within this (default 5 min). */
  downloadTimeoutMs?: number;
}

/** What an accepted update answers; `afterAnswer` runs once the answer is out (the restart). */
export interface OtaAccepted {
  text: string;
  firmware: FirmwareReport;
  afterAnswer: () => void;
}

const DEFAULT_DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

export const NOT_AN_AB_INSTALL =
  'this speaker does not run from an A/B install: flash it first (npx payspeaker flash …)';

export class OtaExtension implements Extension {
  private busy = false;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly ctx: FirmwareContext,
    private readonly opts: OtaOptions = {},
  ) {}

  commands(): { [OTA_COMMAND]: CommandHandler } {
    // parseCommand has checked the fields of every `ota` command that reaches here.
    return { [OTA_COMMAND]: (c) => this.run(c as OtaCommand) };
  }

  start(): void {
    const onOnline = () => {
      this.reportOutcome().catch((err: Error) =>
        this.ctx.log.warn({ err: err.message }, 'could not report the last firmware update'),
      );
    };
    this.ctx.connection.on('online', onOnline);
    this.offs.push(() => this.ctx.connection.off('online', onOnline));
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }

  /** Checks, downloads and installs the release; throws with the reason when it refuses. */
  async run(cmd: OtaCommand): Promise<OtaAccepted> {
    const firmware = this.ctx.board.firmware;
    if (!firmware) throw new Error(NOT_AN_AB_INSTALL);
    if (this.busy) throw new Error('another update is being installed: wait for its result');
    this.busy = true;
    try {
      return await this.install(cmd, firmware);
    } finally {
      this.busy = false;
    }
  }

  private async install(cmd: OtaCommand, firmware: FirmwareSlots): Promise<OtaAccepted> {
    const { log } = this.ctx;
    const key = this.ctx.trust.publicKey;
    if (!key)
      throw new Error(
        "this speaker has no backend key (it runs --insecure), so it cannot check a firmware's signature: provision it and flash it with its config",
      );
    const { running, boot } = firmware.status();
    if (boot.trial)
      throw new Error(
        `slot ${boot.trial.slot} is already on trial with ${boot.trial.version}: wait for it to confirm or roll back`,
      );
    const current = boot.versions[running] ?? this.ctx.firmwareVersion;
    if (current === cmd.version) throw new Error(`this speaker already runs ${cmd.version}: nothing to update`);
    // Anti-rollback: an older release, however well signed, may have the bugs the newer one fixed.
    // Only a command signed with allowDowngrade (commands.ts checked the signature) installs one.
    if (isOlderVersion(cmd.version, current)) {
      if (!cmd.allowDowngrade) {
        throw new Error(
          `refused ${cmd.version}, nothing was written: it is older than the ${current} this speaker runs (anti-rollback); to go back on purpose, send it with "npx payspeaker ota --allow-downgrade"`,
        );
      }
      log.warn(
        { version: cmd.version, running: current },
        'installing an older firmware: the command allows a downgrade',
      );
    }
    const release = {
      version: cmd.version,
      file: tarballName(cmd.version),
      sha256: cmd.sha256,
      size: cmd.size,
      signature: cmd.signature,
    };
    // OTA runs only on Node boards (it needs firmware slots): their key in node:crypto's form.
    const keyObject = publicKeyFromString(key.pem);
    const signed = verifyRelease(release, keyObject);
    if (!signed.ok) throw new Error(`refused ${cmd.version}, nothing was written: ${signed.reason}`);

    log.info({ version: cmd.version, url: cmd.url, size: cmd.size }, 'downloading firmware');
    const timeoutMs = this.opts.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
    const { download, sha256: got } = await firmware
      .download(cmd.url, { size: cmd.size, timeoutMs })
      .catch((err: Error) => {
        throw new Error(`refused ${cmd.version}, nothing was written: ${err.message}`, { cause: err });
      });
    try {
      if (got !== cmd.sha256) {
        throw new Error(
          `refused ${cmd.version}, nothing was written: the download's sha256 is ${got}, the signed release says ${cmd.sha256} (altered or corrupted on the way)`,
        );
      }
      const installed = await firmware.install(download, { version: cmd.version, backendPublicKey: keyObject });
      if (!installed.ok)
        throw new Error(`refused ${cmd.version}: slot ${installed.slot} was emptied again: ${installed.reason}`);
      const deadlineMs = cmd.deadlineMs ?? OTA_DEADLINE.defaultMs;
      firmware.beginTrial({ version: cmd.version, deadlineMs, by: `${OTA_COMMAND}:${cmd.id}` });
      log.info({ version: cmd.version, slot: installed.slot, deadlineMs }, 'firmware installed: restarting into it');
      return {
        text: `installing ${cmd.version} in slot ${installed.slot}, restarting`,
        firmware: { status: 'installing', version: cmd.version },
        afterAnswer: () => firmware.restart(),
      };
    } finally {
      download.discard();
    }
  }

  /**
   * Online after a restart: a trial of this slot has succeeded (confirm it), and an update
   * outcome not yet reported (updated, or rolled back by the loader) goes out as the final
   * result of the ota command that started it.
   */
  private async reportOutcome(): Promise<void> {
    const firmware = this.ctx.board.firmware;
    if (!firmware) return;
    firmware.confirm();
    const last = firmware.status().boot.last;
    const prefix = `${OTA_COMMAND}:`;
    if (!last || last.reported || !last.by.startsWith(prefix)) return;
    const ok = last.result === 'updated';
    await this.ctx.sendCommandResult({
      v: PROTOCOL_VERSION,
      id: last.by.slice(prefix.length),
      device: this.ctx.id,
      command: OTA_COMMAND,
      ok,
      firmware: { status: last.result, version: last.version },
      ...(ok
        ? { text: `updated to ${last.version}` }
        : {
            error: `${last.version} was rolled back: ${last.reason ?? 'no reason recorded'}; running ${this.ctx.firmwareVersion} again`,
          }),
      at: this.ctx.board.clock.now(),
    });
    firmware.markReported();
    this.ctx.log.info({ result: last.result, version: last.version }, 'reported the last firmware update');
  }
}

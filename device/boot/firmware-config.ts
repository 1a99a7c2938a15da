/**
 * ROOT/config/device.json on an installed speaker: the config `payspeaker provision` wrote, plus
 * optional settings for the firmware itself:
 *
 *   lang     "zh-CN" | "en-US" | "hi-IN"            default "zh-CN"
 *   audio    as `payspeaker device --audio`: "player" (ALSA via aplay), "alsa:DEVICE", "file:DIR",
 *            "none", "auto"
 *                                                    default "player"
 *   board    "pi" | "headless" | "laptop"           default "pi"
 *   pi       the Raspberry Pi board's pins (device/boards/pi.ts checks them)
 */
import fs from 'node:fs';
import { z } from 'zod';
import { parseAudioSpec, type AudioSpec } from '../drivers/audio/index.ts';
import { LANGUAGES, type Language } from '../../src/speech/index.ts';
import { DeviceConfigError, describeIssue, parseDeviceConfig, type DeviceConfig } from './device-config.ts';

import { BOARD_KINDS, type BoardKind } from './boards.ts';

export { BOARD_KINDS, type BoardKind };

const firmwareSchema = z.object({
  lang: z.enum(LANGUAGES as [Language, ...Language[]]).default('zh-CN'),
  audio: z.string().default('player'),
  board: z.enum(BOARD_KINDS).default('pi'),
  pi: z.unknown().optional(),
});

export interface FirmwareConfig extends DeviceConfig {
  lang: Language;
  audio: AudioSpec;
  board: BoardKind;
  /** Passed to the Pi board as is; it validates the pins. */
  pi: unknown;
}

/** Throws DeviceConfigError naming the file, the field and what to do. */
export function loadFirmwareConfig(file: string): FirmwareConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new DeviceConfigError(
      `${file}: ${why}: flash the device again with its config (npx payspeaker flash HOST --config SPK-0001.json)`,
    );
  }
  try {
    return parseFirmwareConfig(raw);
  } catch (err) {
    if (err instanceof DeviceConfigError) throw new DeviceConfigError(`${file}: ${err.message}`);
    throw err;
  }
}

export function parseFirmwareConfig(raw: unknown): FirmwareConfig {
  const device = parseDeviceConfig(raw);
  const parsed = firmwareSchema.safeParse(raw);
  if (!parsed.success)
    throw new DeviceConfigError(
      `${describeIssue(parsed.error.issues[0]!)}: fix the device config's firmware settings (lang ${LANGUAGES.join('|')}, audio player|file:DIR|alsa:DEVICE|none|auto, board ${BOARD_KINDS.join('|')})`,
    );
  const f = parsed.data;
  let audio: AudioSpec;
  try {
    audio = parseAudioSpec(f.audio);
  } catch (err) {
    throw new DeviceConfigError(`"audio": ${(err as Error).message}`);
  }
  if (!device.backendPublicKey)
    throw new DeviceConfigError(
      '"backendPublicKey" is null, so the speaker could not tell a real payment from a fake: provision the device again (npx payspeaker provision ID --force) once the broker has started',
    );
  return { ...device, lang: f.lang, audio, board: f.board, pi: f.pi };
}

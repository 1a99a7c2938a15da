/**
 * A device's own config file, as `payspeaker provision` writes it: who it is, where its broker
 * is, its MQTT credentials, and the backend's public key it trusts payments from. The parsing is
 * shared with the firmware (device/boot/device-config.ts); this adds the file and CLI errors.
 */
import fs from 'node:fs';
import { DeviceConfigError, parseDeviceConfig, type DeviceConfig } from '../../device/boot/device-config.ts';
import { CliError } from './exit-codes.ts';

export type { DeviceConfig };

export function loadDeviceConfig(file: string): DeviceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(
      `--config ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}: pass the file "payspeaker provision" wrote`,
    );
  }
  try {
    return parseDeviceConfig(raw);
  } catch (err) {
    if (err instanceof DeviceConfigError) throw new CliError(`--config ${file}: ${err.message}`);
    throw err;
  }
}

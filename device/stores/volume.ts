/** The volume setting, 0-10, kept in NVS so it survives a reboot like a real box's. */
import { DEFAULT_VOLUME, isVolume, MAX_VOLUME, MIN_VOLUME } from '../../src/audio/volume.ts';
import type { Nvs } from '../drivers/nvs.ts';

const KEY = 'settings.volume';

export class VolumeSetting {
  constructor(private readonly nvs: Nvs) {}

  get level(): number {
    const stored = this.nvs.get<number>(KEY);
    return isVolume(stored) ? stored : DEFAULT_VOLUME;
  }

  /** Sets an absolute level (clamped to 0-10); resolves with the level now in force. */
  async set(level: number): Promise<number> {
    const clamped = Math.min(MAX_VOLUME, Math.max(MIN_VOLUME, Math.round(level)));
    if (clamped !== this.level) await this.nvs.set({ [KEY]: clamped });
    return clamped;
  }
}

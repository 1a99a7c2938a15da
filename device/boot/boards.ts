/**
 * The boards an installed firmware can run on, by the device config's `board` key. One line
 * per board: the boards themselves live in device/boards/.
 */
import { openAudioOut } from '../drivers/audio/index.ts';
import type { Logger } from '../../src/log.ts';
import type { Board, FirmwareSlots } from '../board.ts';
import { createHeadlessBoard } from '../boards/headless.ts';
import { createLaptopBoard } from '../boards/laptop.ts';
import { createPiBoard } from '../boards/pi.ts';
import { openFileNvs } from '../drivers/nvs-file.ts';
import type { BoardKind, FirmwareConfig } from './firmware-config.ts';

export interface BoardSetup {
  config: FirmwareConfig;
  log: Logger;
  /** ROOT/data/devices/<id>/nvs.json */
  nvsFile: string;
  /** Where `audio: "auto"` writes WAVs without a sound device: ROOT/data/out. */
  fallbackDir: string;
  /** The A/B slots this firmware runs from (for OTA); null when not started by the loader. */
  firmware: FirmwareSlots | null;
}

const FACTORIES: Record<BoardKind, (s: BoardSetup) => Promise<Board>> = {
  pi: (s) => createPiBoard({ device: s.config.id, log: s.log, nvsFile: s.nvsFile, pi: s.config.pi, audio: s.config.audio, fallbackDir: s.fallbackDir }),
  laptop: (s) => createLaptopBoard({ device: s.config.id, audio: s.config.audio, log: s.log, nvsFile: s.nvsFile, fallbackDir: s.fallbackDir, interactive: false }),
  // A Pi-less install (CI, a server): real audio output and NVS file, simulated keys and light.
  headless: async (s) => {
    const audio = await openAudioOut(s.config.audio, { log: s.log, fallbackDir: s.fallbackDir });
    return createHeadlessBoard({ audio, nvs: await openFileNvs(s.nvsFile, { log: s.log }) });
  },
};

export async function openBoard(setup: BoardSetup): Promise<Board> {
  const board = await FACTORIES[setup.config.board](setup);
  return setup.firmware ? { ...board, firmware: setup.firmware } : board;
}

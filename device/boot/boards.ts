/**
 * The boards, by kind: the device config's `board` key, `payspeaker device` (laptop) and the
 * fleet (headless). One line per board; the boards themselves live in device/boards/.
 */
import type { Logger } from '../../src/log.ts';
import type { AudioOut, Board, FirmwareSlots } from '../board.ts';
import { createHeadlessBoard } from '../boards/headless.ts';
import { createLaptopBoard } from '../boards/laptop.ts';
import { createPiBoard } from '../boards/pi.ts';
import { openAudioOut, type AudioSpec } from '../drivers/audio/index.ts';
import { openFileNvs } from '../drivers/nvs-file.ts';

export const BOARD_KINDS = ['pi', 'headless', 'laptop'] as const;
export type BoardKind = (typeof BOARD_KINDS)[number];

export interface BoardSetup {
  /** The device id (the laptop's panel shows it). */
  device: string;
  log: Logger;
  /** An output by spec (`--audio`, the config's `audio`), or one already made (a fleet's ReadySink). */
  audio: AudioSpec | AudioOut;
  /** The NVS file (DIR/devices/<id>/nvs.json); the headless board keeps NVS in memory without one. */
  nvsFile?: string;
  /** Where `audio: "auto"` writes WAVs without a sound device. Default ./out */
  fallbackDir?: string;
  /** The A/B slots this firmware runs from (for OTA); absent when not started by the loader. */
  firmware?: FirmwareSlots | null;
  /** The Raspberry Pi board's `pi` section of the device config, as it is there (the board checks it). */
  pi?: unknown;
  /** Laptop: the terminal panel and keys (a terminal, not --json); q calls onQuit. */
  interactive?: boolean;
  onQuit?: () => void;
}

const needNvs = (s: BoardSetup): string => {
  if (!s.nvsFile) throw new Error(`board for ${s.device}: an NVS file is required`);
  return s.nvsFile;
};
const audioOf = (s: BoardSetup): Promise<AudioOut> =>
  'kind' in s.audio ? openAudioOut(s.audio, { log: s.log, fallbackDir: s.fallbackDir }) : Promise.resolve(s.audio);
const specOf = (s: BoardSetup): AudioSpec | undefined => ('kind' in s.audio ? s.audio : undefined);

const FACTORIES = {
  pi: (s) =>
    createPiBoard({
      device: s.device,
      log: s.log,
      nvsFile: needNvs(s),
      pi: s.pi,
      audio: specOf(s),
      fallbackDir: s.fallbackDir,
    }),
  laptop: (s) =>
    createLaptopBoard({
      device: s.device,
      audio: s.audio,
      log: s.log,
      nvsFile: needNvs(s),
      fallbackDir: s.fallbackDir,
      interactive: s.interactive ?? false,
      onQuit: s.onQuit,
    }),
  // Tests, fleets and Pi-less installs (CI, a server): simulated keys and light.
  headless: async (s) =>
    createHeadlessBoard({
      audio: await audioOf(s),
      ...(s.nvsFile ? { nvs: await openFileNvs(s.nvsFile, { log: s.log }) } : {}),
    }),
} satisfies Record<BoardKind, (s: BoardSetup) => Promise<Board>>;

export async function openBoard(kind: BoardKind, setup: BoardSetup): Promise<Board> {
  const board = await FACTORIES[kind](setup);
  return setup.firmware ? { ...board, firmware: setup.firmware } : board;
}

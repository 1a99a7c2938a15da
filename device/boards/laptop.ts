/**
 * The laptop board: real audio through the machine's player (or WAV files when no sound device
 * answers), NVS in a file, and — on a terminal — the keyboard as buttons and a live panel as
 * the status light and display.
 */
import { openAudioOut, type AudioSpec } from '../drivers/audio/index.ts';
import type { Logger } from '../../src/log.ts';
import type { AudioOut, Board, Display, StatusLed } from '../board.ts';
import { createSystemClock } from '../drivers/clock.ts';
import { openFileNvs } from '../drivers/nvs-file.ts';
import { createKeyboard } from '../drivers/keyboard.ts';
import { createTerminalPanel, type TerminalPanel } from '../drivers/terminal-panel.ts';
import { createButtonEmitter, createSimulatedBattery, createSimulatedLink } from '../drivers/simulated.ts';
import { systemRandom } from '../drivers/random.ts';

export interface LaptopBoardOptions {
  device: string;
  /** An output by spec (`--audio`), or one already open. */
  audio: AudioSpec | AudioOut;
  log: Logger;
  /** The NVS file (volume, payment ids, today's totals). */
  nvsFile: string;
  /** Where `auto` writes WAVs without a sound device. Default ./out */
  fallbackDir?: string;
  /** Show the panel and read keys (a terminal, not --json). */
  interactive: boolean;
  /** Called when the user presses q. */
  onQuit?: () => void;
}

export interface LaptopBoard extends Board {
  /** The terminal panel when interactive: print through it so lines do not tear the panel. */
  readonly panel: TerminalPanel | null;
}

const dark: StatusLed & Display = { set: () => undefined, show: () => undefined };

export async function createLaptopBoard(opts: LaptopBoardOptions): Promise<LaptopBoard> {
  const audio =
    'kind' in opts.audio
      ? await openAudioOut(opts.audio, { log: opts.log, fallbackDir: opts.fallbackDir })
      : opts.audio;
  const nvs = await openFileNvs(opts.nvsFile, { log: opts.log });
  const panel = opts.interactive ? createTerminalPanel(process.stdout, opts.device) : null;
  const keyboard = opts.interactive
    ? createKeyboard(process.stdin, opts.onQuit ?? (() => undefined), (text) => panel?.log(text))
    : null;
  const clock = createSystemClock();
  return {
    name: 'laptop',
    audio,
    clock,
    nvs,
    buttons: keyboard ?? createButtonEmitter(),
    led: panel ?? dark,
    display: panel ?? dark,
    battery: createSimulatedBattery({ now: () => clock.monotonic() }),
    link: createSimulatedLink(),
    random: systemRandom,
    panel,
    async close() {
      keyboard?.close();
      panel?.close();
      await audio.close();
      await nvs.close();
    },
  };
}

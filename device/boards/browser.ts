/**
 * The browser board: the firmware in a page (issue 13's web console). Audio through WebAudio,
 * NVS in IndexedDB (one database per device), and a panel the page draws: buttons clicked,
 * the status LED, the segment display, a simulated battery and radio.
 *
 * Nothing here, nor in what it imports, may use a node: module, Buffer or process: the console
 * bundles it with esbuild for the browser (test/device/browser-board.test.ts builds it).
 */
import type { Board, Clock, RandomSource } from '../board.ts';
import { createSystemClock } from '../drivers/clock.ts';
import { nvsDatabaseName, openIndexedDbNvs } from '../drivers/browser/nvs-indexeddb.ts';
import { createBrowserPanel, type BrowserPanel } from '../drivers/browser/panel.ts';
import { webCryptoRandom } from '../drivers/browser/random.ts';
import { createWebAudioOut, type AudioContextLike, type WebAudioOut } from '../drivers/browser/webaudio.ts';
import type { ButtonEmitter } from '../drivers/simulated.ts';
import type { Logger } from '../../src/log.ts';

export interface BrowserBoardOptions {
  /** The device id; names its NVS database ("payspeaker-nvs-<id>"). */
  device: string;
  /** Default: the page's `indexedDB`. */
  indexedDB?: IDBFactory;
  /**
   * One the page made and may share between its speakers (browsers cap how many a page may
   * open); the board leaves it open on close. Default: a new AudioContext of its own, closed
   * with the board.
   */
  audioContext?: AudioContextLike;
  /** Default: a clock of its own (createSystemClock), which the firmware may set from the broker's time. */
  clock?: Clock;
  /** Default: WebCrypto's getRandomValues. */
  random?: RandomSource;
  batteryPercent?: number;
  /** Told about NVS records that do not read back. */
  log?: Pick<Logger, 'warn'>;
}

export interface BrowserBoard extends Board {
  readonly audio: WebAudioOut;
  readonly buttons: ButtonEmitter;
  /** What the page draws and the buttons it presses. */
  readonly panel: BrowserPanel;
}

export async function createBrowserBoard(opts: BrowserBoardOptions): Promise<BrowserBoard> {
  if (typeof opts.device !== 'string' || opts.device === '')
    throw new TypeError(`browser board: expected a device id such as "SPK-WEB-1", got ${JSON.stringify(opts.device)}`);
  const clock = opts.clock ?? createSystemClock();
  const ownContext = opts.audioContext === undefined;
  const context = opts.audioContext ?? newAudioContext();
  const audio = createWebAudioOut(context, { clock, closeContext: ownContext });
  let nvs;
  try {
    nvs = await openIndexedDbNvs(nvsDatabaseName(opts.device), opts.indexedDB ?? globalThis.indexedDB, {
      log: opts.log,
    });
  } catch (err) {
    await audio.close();
    throw err;
  }
  const panel = createBrowserPanel({ clock, batteryPercent: opts.batteryPercent });
  return {
    name: 'browser',
    audio,
    clock,
    nvs,
    buttons: panel.buttons,
    led: panel.led,
    display: panel.display,
    battery: panel.battery,
    link: panel.link,
    random: opts.random ?? webCryptoRandom,
    panel,
    async close() {
      await audio.close();
      await nvs.close();
    },
  };
}

function newAudioContext(): AudioContextLike {
  if (typeof globalThis.AudioContext !== 'function')
    throw new Error(
      'browser board: WebAudio (AudioContext) is not available here; run it in a browser page, or pass audioContext',
    );
  return new AudioContext();
}

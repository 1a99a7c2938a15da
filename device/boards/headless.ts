/**
 * The headless board, for tests and fleets: no sound card (audio kept in memory to inspect),
 * buttons pressed from code, an LED that records, NVS in memory unless a file is given.
 */
import { createMemorySink, type MemorySink } from '../drivers/audio/index.ts';
import { sleep, type AudioOut, type Board, type Clock, type Nvs } from '../board.ts';
import { createSystemClock } from '../drivers/clock.ts';
import { createMemoryNvs } from '../drivers/nvs-memory.ts';
import {
  createButtonEmitter,
  createRecordingLed,
  createSimulatedBattery,
  createSimulatedLink,
  type ButtonEmitter,
} from '../drivers/simulated.ts';
import { systemRandom } from '../drivers/random.ts';

export interface HeadlessBoard<A extends AudioOut = MemorySink> extends Board {
  readonly audio: A;
  readonly buttons: ButtonEmitter;
  readonly led: ReturnType<typeof createRecordingLed>;
}

export interface HeadlessBoardOptions {
  /** Default: a clock of its own (createSystemClock), which the firmware may set from the broker's time. */
  clock?: Clock;
  /**
   * How fast "playback" runs: 0 (default) returns at once; 1 takes as long as the audio, like a
   * real speaker; 20 is twenty times faster. Queues and bursts only form when playback takes time.
   */
  playbackSpeed?: number;
  nvs?: Nvs;
  batteryPercent?: number;
}

function paced<A extends AudioOut>(sink: A, speed: number, clock: Clock): A {
  if (speed <= 0) return sink;
  return {
    ...sink,
    async play(pcm, label) {
      const result = await sink.play(pcm, label);
      await sleep(clock, result.durationMs / speed);
      return result;
    },
  };
}

export function createHeadlessBoard(opts?: HeadlessBoardOptions): HeadlessBoard;
/**
 * With `audio`: the board's output is that instead of a memory sink. Fleets pass one that notes
 * when the PCM was ready and keeps nothing: 10,000 speakers' audio would not fit in memory.
 */
export function createHeadlessBoard<A extends AudioOut>(opts: HeadlessBoardOptions & { audio: A }): HeadlessBoard<A>;
export function createHeadlessBoard(opts: HeadlessBoardOptions & { audio?: AudioOut } = {}): HeadlessBoard<AudioOut> {
  const clock = opts.clock ?? createSystemClock();
  const audio = paced(opts.audio ?? createMemorySink(), opts.playbackSpeed ?? 0, clock);
  const nvs = opts.nvs ?? createMemoryNvs();
  return {
    name: 'headless',
    audio,
    clock,
    nvs,
    buttons: createButtonEmitter(),
    led: createRecordingLed(),
    // Drains with elapsed time, which setting the wall clock (1970 → today) must not jump.
    battery: createSimulatedBattery({ now: () => clock.monotonic() }, { startPercent: opts.batteryPercent }),
    link: createSimulatedLink(),
    random: systemRandom,
    async close() {
      await audio.close();
      await nvs.close();
    },
  };
}

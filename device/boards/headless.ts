/**
 * The headless board, for tests and fleets: no sound card (audio kept in memory to inspect),
 * buttons pressed from code, an LED that records, NVS in memory unless a file is given.
 */
import { createMemorySink, type MemorySink } from '../../src/audio/sinks/index.ts';
import { systemClock, type Board, type Clock, type Nvs } from '../board.ts';
import { createMemoryNvs } from '../drivers/nvs-memory.ts';
import { createButtonEmitter, createRecordingLed, createSimulatedBattery, createSimulatedLink, type ButtonEmitter } from '../drivers/simulated.ts';

export interface HeadlessBoard extends Board {
  readonly audio: MemorySink;
  readonly buttons: ButtonEmitter;
  readonly led: ReturnType<typeof createRecordingLed>;
}

export interface HeadlessBoardOptions {
  clock?: Clock;
  /**
   * How fast "playback" runs: 0 (default) returns at once; 1 takes as long as the audio, like a
   * real speaker; 20 is twenty times faster. Queues and bursts only form when playback takes time.
   */
  playbackSpeed?: number;
  nvs?: Nvs;
  batteryPercent?: number;
}

function paced(sink: MemorySink, speed: number): MemorySink {
  if (speed <= 0) return sink;
  return {
    ...sink,
    async play(pcm, label) {
      const result = await sink.play(pcm, label);
      await new Promise((resolve) => setTimeout(resolve, result.durationMs / speed));
      return result;
    },
  };
}

export function createHeadlessBoard(opts: HeadlessBoardOptions = {}): HeadlessBoard {
  const clock = opts.clock ?? systemClock;
  const audio = paced(createMemorySink(), opts.playbackSpeed ?? 0);
  const nvs = opts.nvs ?? createMemoryNvs();
  return {
    name: 'headless',
    audio,
    clock,
    nvs,
    buttons: createButtonEmitter(),
    led: createRecordingLed(),
    battery: createSimulatedBattery(clock, { startPercent: opts.batteryPercent }),
    link: createSimulatedLink(),
    async close() {
      await audio.close();
      await nvs.close();
    },
  };
}

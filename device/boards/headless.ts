/**
 * The headless board, for tests and fleets: no sound card, audio kept in memory so it can
 * be inspected, and an injectable clock.
 */
import { createMemorySink, type MemorySink } from '../../src/audio/sinks/index.ts';
import { systemClock, type Board, type Clock } from '../board.ts';

export interface HeadlessBoard extends Board {
  readonly audio: MemorySink;
}

export function createHeadlessBoard(opts: { clock?: Clock } = {}): HeadlessBoard {
  const audio = createMemorySink();
  return { name: 'headless', audio, clock: opts.clock ?? systemClock, close: () => audio.close() };
}

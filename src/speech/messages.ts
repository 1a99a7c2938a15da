/**
 * Rules every language shares about what a message may hold and when a summary has nothing to
 * say, so that three languages cannot disagree about them.
 */
import type { Message, Prompt } from './types.ts';

type Summary = Extract<Message, { type: 'summary' }>;

/** Every prompt, in a stable order (vocabularies list their clips in this order). */
export const PROMPTS: readonly Prompt[] = [
  'power-on',
  'network-connected',
  'network-lost',
  'volume-max',
  'volume-min',
  'no-records',
  'low-battery',
];

/** A battery level the speaker can say: an integer percentage from 0 to 100. */
export function checkBattery(percent: number): number {
  if (!Number.isSafeInteger(percent) || percent < 0 || percent > 100) {
    throw new RangeError(`battery level ${percent} cannot be announced: expected an integer percentage from 0 to 100`);
  }
  return percent;
}

/**
 * A summary with no payments, or no money to total, is said as the no-records prompt in every
 * scope: "today: zero payments, total nothing" helps nobody, and the prompt is already recorded.
 */
export function isEmptySummary(m: Summary): boolean {
  if (!Number.isSafeInteger(m.count) || m.count < 0) {
    throw new RangeError(
      `summary count ${m.count} cannot be announced: expected a whole number of payments, 0 or more`,
    );
  }
  return m.count === 0 || m.totals.length === 0;
}

/** For exhaustive switches: TypeScript proves this is never called; at run time it reports a bad message. */
export function unknownMessage(m: never): never {
  throw new TypeError(`cannot announce ${JSON.stringify(m)}: unknown message type`);
}

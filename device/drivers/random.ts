/** Random bytes on Node boards: node:crypto's CSPRNG (Node 18 has no global `crypto`). */
import { randomBytes } from 'node:crypto';
import type { RandomSource } from '../board.ts';

export const systemRandom: RandomSource = { bytes: (n) => randomBytes(n) };

/** Random bytes in a browser: WebCrypto's CSPRNG (the browser's counterpart of node:crypto's randomBytes). */
import type { RandomSource } from '../../board.ts';

/** getRandomValues fills at most 65,536 bytes per call (a QuotaExceededError beyond). */
const MAX_PER_CALL = 65_536;

export const webCryptoRandom: RandomSource = {
  bytes(n) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`random: expected a whole number of bytes >= 0, got ${n}`);
    const out = new Uint8Array(n);
    for (let at = 0; at < n; at += MAX_PER_CALL) globalThis.crypto.getRandomValues(out.subarray(at, at + MAX_PER_CALL));
    return out;
  },
};

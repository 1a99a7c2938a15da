/**
 * Imported first (console/main.tsx): zod tests whether it may compile validators with
 * `new Function` when its first schema is built, and under the console's Content-Security-Policy
 * (no eval) that probe is itself a violation the browser reports. jitless skips the probe; the
 * protocol's schemas (src/protocol/notification.ts) then validate without generated code.
 */
import { config } from 'zod';

config({ jitless: true });

/**
 * NVS that lives only in memory, for the headless board and tests. It keeps the file driver's
 * rules (JSON-safe values, frozen copies, async durable `set` and `delete`, one write per turn)
 * because it shares their core; only its `persist` does nothing. Code tested against it
 * behaves the same on a real box.
 */
import { StagedNvs, type Nvs } from './nvs.ts';

export function createMemoryNvs(initial: Record<string, unknown> = {}): Nvs {
  return new StagedNvs('memory NVS', async () => undefined, Object.entries(initial));
}

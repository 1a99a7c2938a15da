/**
 * The soak run's load: payments through the API at a fixed rate for the whole run, and, at the
 * end, the status the API gives each of them. The load is paced by the clock, not by the API's
 * answers, so a slow broker does not lower it.
 */
import { ApiRequestError, ApiUnreachableError, type NotificationApi, type PaymentStatus } from '../api/client.ts';
import { CHANNELS } from '../../src/protocol/index.ts';
import { assertAlive, type Rig } from './rig.ts';
import type { SoakOptions, SoakProgress } from './types.ts';

/** Payments at a fixed rate for the duration, round-robin over the speakers; retried while the API is down. */
export async function pay(
  rig: Rig,
  opts: SoakOptions,
  startedAt: number,
  progress: SoakProgress,
): Promise<{ ids: string[]; retries: number }> {
  const ids: string[] = [];
  let retries = 0;
  const total = Math.floor((opts.durationMs / 1000) * opts.rate);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  const send = async (i: number) => {
    const body = {
      device: `SPK-SOAK-${String((i % opts.devices) + 1).padStart(4, '0')}`,
      amount: 100 + (i % 100_000),
      currency: 'CNY',
      channel: CHANNELS[i % 2]!,
      idempotencyKey: `soak-${opts.seed}-${i}`,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        ids[i] = (await rig.api.createPayment(body)).payment.id;
        progress.accepted++;
        return;
      } catch (err) {
        const transient = err instanceof ApiUnreachableError || (err instanceof ApiRequestError && err.status >= 500);
        if (!transient || attempt >= 50) throw err;
        retries++;
        await sleep(200);
      }
    }
  };
  for (let i = 0; i < total && failure === null; i++) {
    assertAlive(rig);
    if (Date.now() - startedAt >= opts.warmupMs) progress.phase = 'measuring';
    const p = send(i)
      .catch((err: unknown) => void (failure ??= err))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    // Paced by the clock, not by answers: a slow API must not slow the offered load.
    const due = startedAt + ((i + 1) * 1000) / opts.rate;
    if (due > Date.now()) await sleep(due - Date.now());
    if (inFlight.size > 1000) await Promise.race(inFlight);
  }
  await Promise.allSettled([...inFlight]);
  if (failure !== null) throw failure;
  return { ids, retries };
}

export async function finalStatuses(api: NotificationApi, ids: string[]): Promise<Map<string, PaymentStatus>> {
  const statuses = new Map<string, PaymentStatus>();
  for (let i = 0; i < ids.length; i += 50) {
    const batch = ids.slice(i, i + 50);
    const got = await Promise.all(
      batch.map((id) =>
        api.getPayment(id).then(
          (r) => r.payment.status,
          () => 'queued' as const,
        ),
      ),
    );
    got.forEach((s, j) => statuses.set(batch[j]!, s));
  }
  return statuses;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

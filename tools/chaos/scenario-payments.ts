/**
 * The chaos run's payments: sent through the API at the target rate like a real backend would
 * (the same request again while the API is down), with the broker and a speaker killed part-way
 * through; then followed until every one has a final status or the drain time is up.
 */
import { ApiRequestError, ApiUnreachableError, FINAL_STATUSES, type PaymentStatus } from '../api/client.ts';
import { CHANNELS } from '../../src/protocol/index.ts';
import { assertAlive, restartBroker, restartDevice, type Rig } from './scenario-rig.ts';
import type { ChaosOptions, ChaosProgress } from './scenario-types.ts';

/**
 * Sends the payments at the target rate, round-robin over the speakers, each with its own
 * idempotency key; an API that is down (the broker being killed) gets the same request again.
 * Kills the broker at 40 % and a speaker at 60 %.
 */
export async function generate(rig: Rig, opts: ChaosOptions, progress: ChaosProgress) {
  const ids: string[] = new Array(opts.payments);
  const startedAt = Date.now();
  let retries = 0;
  let next = 0;
  const faults: Promise<void>[] = [];
  const killBrokerAt = opts.killBroker ? Math.floor(opts.payments * 0.4) : -1;
  const killDeviceAt = opts.killDevice ? Math.floor(opts.payments * 0.6) : -1;
  const send = async (i: number) => {
    const device = rig.deviceIds[i % rig.deviceIds.length]!;
    const body = {
      device,
      amount: 100 + (i % 100_000),
      currency: 'CNY',
      channel: CHANNELS[i % 2]!,
      idempotencyKey: `chaos-${opts.seed}-${i}`,
    };
    for (;;) {
      try {
        ids[i] = (await rig.api.createPayment(body)).payment.id;
        progress.accepted++;
        return;
      } catch (err) {
        if (err instanceof ApiRequestError && err.status < 500) throw err;
        if (!(err instanceof ApiUnreachableError || err instanceof ApiRequestError)) throw err;
        if (rig.stopped) throw new Error('the chaos run was stopped', { cause: err });
        assertAlive(rig);
        retries++;
        await sleep(200);
      }
    }
  };
  const inFlight = new Set<Promise<void>>();
  // The first failure of any send or restart ends the run; every later one is only waited for.
  let failure: unknown = null;
  const track = (work: Promise<void>) => work.catch((err: unknown) => void (failure ??= err));
  try {
    while (next < opts.payments && failure === null) {
      assertAlive(rig);
      const i = next++;
      if (i === killBrokerAt) faults.push(track(restartBroker(rig, progress)));
      if (i === killDeviceAt) faults.push(track(restartDevice(rig, opts.seed, progress)));
      const p = track(send(i)).finally(() => inFlight.delete(p));
      inFlight.add(p);
      // Paced by the clock, not by answers: a slow API must not slow the offered load.
      const due = startedAt + ((i + 1) * 1000) / opts.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      if (inFlight.size > 2000) await Promise.race(inFlight);
    }
  } finally {
    if (failure !== null || next < opts.payments) rig.stopped = true;
    await Promise.allSettled([...inFlight, ...faults]);
  }
  if (failure !== null) throw failure;
  return { ids, retries, startedAt, endedAt: Date.now() };
}

/** Follows every payment to a final status, or until `drainMs` passes. */
export async function drain(
  rig: Rig,
  ids: string[],
  drainMs: number,
  progress: ChaosProgress,
): Promise<Map<string, PaymentStatus>> {
  const { api } = rig;
  const statuses = new Map<string, PaymentStatus>();
  const deadline = Date.now() + drainMs;
  let open = ids;
  let final = 0;
  while (open.length > 0 && Date.now() < deadline) {
    assertAlive(rig);
    const still: string[] = [];
    for (let i = 0; i < open.length; i += 50) {
      const batch = open.slice(i, i + 50);
      const got = await Promise.all(
        batch.map((id) =>
          api.getPayment(id).then(
            (r) => r.payment.status,
            () => 'queued' as const,
          ),
        ),
      );
      got.forEach((status, j) => {
        statuses.set(batch[j]!, status);
        if (FINAL_STATUSES.has(status)) progress.final = ++final;
        else still.push(batch[j]!);
      });
    }
    open = still;
    if (open.length > 0) await sleep(500);
  }
  // "duplicate" (the device had it already) is final, but the device's own "played" ack may be
  // a moment behind it, still being resent after a reconnect: give those a last look.
  await sleep(3000);
  const duplicates = [...statuses].filter(([, s]) => s === 'duplicate').map(([id]) => id);
  for (const id of duplicates)
    statuses.set(
      id,
      await api.getPayment(id).then(
        (r) => r.payment.status,
        () => 'duplicate' as const,
      ),
    );
  return statuses;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The broker's internal subscribers survive a backlog: 30,000 messages that only a synchronous
 * internal handler reads, queued behind slow deliveries that hold aedes's mqemitter at its
 * concurrency. With `done()` called straight from the handler each queued message runs from the
 * previous one's `done`, and the recursion overflows the stack (what killed the broker of a
 * 100,000-speaker fleet); through subscribeInternal every message is handled, in order.
 */
import { describe, expect, it } from 'vitest';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { subscribeInternal } from '../../broker/internal-subscribe.ts';

const BACKLOG = 30_000;

async function backlog(subscribe: (aedes: Aedes, handle: (p: AedesPublishPacket) => void) => Promise<void>) {
  const aedes = await Aedes.createBroker();
  try {
    // Deliveries that take a while, as QoS 1 to a slow client does: they fill the concurrency.
    const held: (() => void)[] = [];
    await new Promise<void>((r) => aedes.subscribe('slow/#', (_p, done) => void held.push(done), r));
    const seen: number[] = [];
    await subscribe(aedes, (p) => seen.push(Number(p.payload.toString())));
    const publish = (topic: string, payload: string) =>
      aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false },
        () => {},
      );
    for (let i = 0; i < 100; i++) publish(`slow/${i}`, 'x');
    for (let i = 0; i < BACKLOG; i++) publish('fast/state', String(i));
    for (const done of held.splice(0)) done();
    await new Promise((r) => setTimeout(r, 200));
    return seen;
  } finally {
    await new Promise<void>((r) => aedes.close(() => r()));
  }
}

describe('subscribeInternal', () => {
  it(`takes a backlog of ${BACKLOG} messages behind held deliveries without overflowing the stack, in order`, async () => {
    const seen = await backlog((aedes, handle) => subscribeInternal(aedes, 'fast/#', handle));
    expect(seen).toHaveLength(BACKLOG);
    expect(seen.every((v, i) => v === i)).toBe(true);
  });

  it('the same backlog with done() called synchronously overflows the stack (the failure it prevents)', async () => {
    await expect(
      backlog(
        (aedes, handle) =>
          new Promise<void>((resolve) =>
            aedes.subscribe(
              'fast/#',
              (p, done) => {
                handle(p);
                done();
              },
              resolve,
            ),
          ),
      ),
    ).rejects.toThrow(/Maximum call stack size exceeded/);
  });
});

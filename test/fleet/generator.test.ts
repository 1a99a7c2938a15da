/**
 * The payment generator against its schedule: it never publishes a payment before it is due,
 * and after a stall it catches up in a burst without moving the schedule, so the stall stays
 * in the latency figures (coordinated omission, tally.ts). The MQTT client is a recorder: the
 * generator's contract ends at publish().
 */
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { preciseNow } from '../../tools/fleet/clock.ts';
import { PaymentGenerator } from '../../tools/fleet/generator.ts';
import { languagesOf, PaymentMix } from '../../tools/fleet/mix.ts';
import { Pacer } from '../../tools/fleet/pacer.ts';
import { Tally } from '../../tools/fleet/tally.ts';

const DEVICES = 10;

function generator(rate: number, durationMs: number) {
  const topics: string[] = [];
  const client = {
    publish(topic: string, _payload: string, _opts: unknown, _done: (err?: Error) => void) {
      topics.push(topic);
    },
  } as unknown as MqttClient;
  const tally = new Tally();
  const g = new PaymentGenerator(client, tally, {
    rate,
    durationMs,
    window: 1,
    devices: DEVICES,
    prefix: 'GEN',
    runId: 'r1234567',
    mix: new PaymentMix(languagesOf(DEVICES, undefined, 'en-US')),
    privateKey: null,
    seed: 1,
  });
  return { g, tally, topics };
}

const entries = (tally: Tally) => Array.from({ length: tally.sent }, (_, seq) => tally.entry(seq));

describe('PaymentGenerator at a fixed rate', () => {
  it('publishes every payment on or after its due time (start + seq / rate), never before', async () => {
    const { g, tally, topics } = generator(200, 500);
    await g.run();
    expect(tally.sent).toBe(100);
    expect(topics).toHaveLength(100);
    const sent = entries(tally);
    for (const [seq, e] of sent.entries()) {
      expect(e.intended).toBeCloseTo(g.startTime + seq * 5, 6);
      expect(e.published).toBeGreaterThanOrEqual(e.intended);
    }
  });

  it('catches up after a stall in a burst, keeping the schedule, so the stall counts as latency', async () => {
    const { g, tally } = generator(200, 500);
    // The event loop is blocked for 60 ms from 100 ms in: a GC pause, a busy core.
    let stallEnd = 0;
    setTimeout(() => {
      const until = performance.now() + 60;
      while (performance.now() < until);
      stallEnd = preciseNow();
    }, 100);
    await g.run();
    const sent = entries(tally);
    expect(sent).toHaveLength(100);
    // The payments due during the stall went out together once it ended, each still due at its own time.
    const burst = sent.filter((e) => e.published - e.intended > 30);
    expect(burst.length).toBeGreaterThanOrEqual(6);
    for (const e of burst) expect(e.published).toBeGreaterThanOrEqual(stallEnd);
    expect(tally.lag.maxValue).toBeGreaterThan(30_000); // µs
    const spacing = sent.slice(1).map((e, i) => e.intended - sent[i]!.intended);
    for (const s of spacing) expect(s).toBeCloseTo(5, 6);
  });
});

describe('Pacer', () => {
  it('wakes no earlier than asked, below a millisecond too (setTimeout cannot), and at once for a moment passed', async () => {
    const pacer = new Pacer();
    try {
      for (const ms of [0.3, 0.7, 2.5, 0, -5]) {
        const before = performance.now();
        await pacer.sleep(ms);
        expect(performance.now() - before).toBeGreaterThanOrEqual(Math.max(0, ms));
      }
    } finally {
      await pacer.close();
    }
  });
});

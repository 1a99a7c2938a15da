/**
 * The outbox on its own, against a real SQLite file and a fake clock: acceptance and
 * idempotency, every status transition and the ones that must not happen, backoff, expiry, and
 * what a second process opening the same file sees (durability and the shared claim).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdempotencyConflictError, Outbox, type PaymentRequest, type Publication } from '../../broker/outbox/outbox.ts';
import { retryDelay } from '../../broker/outbox/retry.ts';
import { PROTOCOL_VERSION, type Ack, type AckStatus } from '../../src/protocol/index.ts';

let dir: string;
let clock: number;
const opened: Outbox[] = [];
const T0 = Date.UTC(2026, 10, 24, 12);

function open(ttlMs = 60_000): Outbox {
  const outbox = Outbox.open(dir, {
    sign: (n) => n,
    ttlMs,
    retry: { baseMs: 1000, maxMs: 8000 },
    now: () => clock,
    random: () => 1,
  });
  opened.push(outbox);
  return outbox;
}

const request = (patch: Partial<PaymentRequest> = {}): PaymentRequest => ({
  device: 'SPK-1',
  amount: 12345,
  currency: 'CNY',
  channel: 'wechat',
  kind: 'payment',
  ...patch,
});
const ack = (id: string, status: AckStatus, extra: Partial<Ack> = {}): Ack => ({
  v: PROTOCOL_VERSION,
  id,
  device: 'SPK-1',
  status,
  at: clock,
  ...extra,
});
const flush = () => new Promise((r) => setImmediate(r));

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-outbox-'));
  clock = T0;
});

afterEach(() => {
  for (const o of opened.splice(0)) o.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('accepting payments', () => {
  it('stores the payment and its signed notification before resolving, and hands out the first publication', async () => {
    const outbox = open();
    const published: Publication[] = [];
    outbox.onAccepted = (p) => published.push(p);
    const { payment, created } = await outbox.accept(request());
    expect(created).toBe(true);
    expect(payment).toMatchObject({
      device: 'SPK-1',
      amount: 12345,
      currency: 'CNY',
      status: 'queued',
      attempts: 1,
      expiresAt: T0 + 60_000,
    });
    expect(published).toEqual([{ id: payment.id, device: 'SPK-1', payload: expect.any(String), attempt: 1 }]);
    expect(JSON.parse(published[0]!.payload)).toMatchObject({
      id: payment.id,
      amount: 12345,
      currency: 'CNY',
      createdAt: T0,
    });
    // A second connection (another process) sees it: it was committed, not just cached.
    const other = open();
    expect(other.find(payment.id)?.status).toBe('queued');
    expect(other.history(payment.id)).toEqual([{ at: T0, event: 'accepted', status: 'queued' }]);
  });

  it('gives one payment for one idempotency key, even for concurrent requests in the same turn', async () => {
    const outbox = open();
    let publications = 0;
    outbox.onAccepted = () => publications++;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => outbox.accept(request({ idempotencyKey: 'order-42' }))),
    );
    expect(new Set(results.map((r) => r.payment.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(publications).toBe(1);
    const later = await outbox.accept(request({ idempotencyKey: 'order-42' }));
    expect(later).toMatchObject({ created: false, payment: { id: results[0]!.payment.id } });
  });

  it('refuses a reused idempotency key with different fields, naming them', async () => {
    const outbox = open();
    const first = await outbox.accept(request({ idempotencyKey: 'order-43' }));
    const err = await outbox
      .accept(request({ idempotencyKey: 'order-43', amount: 999, channel: 'alipay' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect((err as IdempotencyConflictError).fields).toEqual(['amount', 'channel']);
    expect((err as Error).message).toContain(first.payment.id);
  });
});

describe('status transitions', () => {
  it('queued → delivered on the PUBACK → played on the ack, with the spoken text in the history', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    clock += 5;
    outbox.recordDelivered('SPK-1', payment.id);
    await flush();
    expect(outbox.find(payment.id)).toMatchObject({ status: 'delivered', deliveredAt: T0 + 5 });
    clock += 20;
    outbox.recordAck('SPK-1', ack(payment.id, 'played', { text: '微信收款一百二十三点四五元' }));
    await flush();
    expect(outbox.find(payment.id)).toMatchObject({
      status: 'played',
      text: '微信收款一百二十三点四五元',
      finishedAt: T0 + 25,
    });
    expect(outbox.history(payment.id).map((e) => e.status)).toEqual(['queued', 'delivered', 'played']);
  });

  it('keeps the first final status: a later duplicate or rejection changes nothing', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    outbox.recordAck('SPK-1', ack(payment.id, 'played'));
    outbox.recordAck('SPK-1', ack(payment.id, 'duplicate'));
    outbox.recordAck('SPK-1', ack(payment.id, 'rejected', { reason: 'expired', detail: 'x' }));
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('played');
    expect(outbox.history(payment.id).map((e) => e.status)).toEqual(['queued', 'played']);
  });

  it('lets "played" replace a "duplicate" that overtook it, but not the other way round', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    outbox.recordAck('SPK-1', ack(payment.id, 'duplicate'));
    outbox.recordAck('SPK-1', ack(payment.id, 'played', { text: 'said' }));
    outbox.recordAck('SPK-1', ack(payment.id, 'duplicate'));
    await flush();
    expect(outbox.find(payment.id)).toMatchObject({ status: 'played', text: 'said' });
    expect(outbox.history(payment.id).at(-1)).toMatchObject({
      status: 'played',
      detail: 'late ack after duplicate: played',
    });
  });

  it('ignores acks from another device and PUBACKs after the final status', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    outbox.recordAck('SPK-2', { ...ack(payment.id, 'played'), device: 'SPK-2' });
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('queued');
    outbox.recordAck('SPK-1', ack(payment.id, 'summarized'));
    outbox.recordDelivered('SPK-1', payment.id);
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('summarized');
  });

  it('treats audio-failed as "try again": back to queued with a retry, not a final rejection', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    outbox.recordAck('SPK-1', ack(payment.id, 'rejected', { reason: 'audio-failed', detail: 'no sound card' }));
    await flush();
    const p = outbox.find(payment.id)!;
    expect(p.status).toBe('queued');
    expect(p.nextAttemptAt).toBe(T0 + retryDelay({ baseMs: 1000, maxMs: 8000 }, 1, () => 1));
    expect(outbox.history(payment.id).at(-1)).toMatchObject({
      event: 'retrying',
      detail: expect.stringContaining('no sound card'),
    });
  });

  it('ends a bad-signature rejection for good, with the reason', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    outbox.recordAck(
      'SPK-1',
      ack(payment.id, 'rejected', { reason: 'bad-signature', detail: 'not signed by the backend' }),
    );
    await flush();
    expect(outbox.find(payment.id)).toMatchObject({ status: 'rejected', reason: 'bad-signature', nextAttemptAt: null });
  });
});

describe('retries and expiry', () => {
  it('re-publishes with doubling backoff up to the cap, then expires at the time-to-live', async () => {
    const outbox = open(20_000);
    const { payment } = await outbox.accept(request());
    const attempts: number[] = [];
    for (let t = 0; t <= 20_000; t += 100) {
      clock = T0 + t;
      for (const _ of outbox.tick(100).due) attempts.push(clock - T0);
    }
    // random() = 1: waits of 1 s, 2 s, 4 s, 8 s, 8 s … after each attempt.
    expect(attempts).toEqual([1000, 3000, 7000, 15000]);
    expect(outbox.find(payment.id)).toMatchObject({ status: 'expired', attempts: 5, nextAttemptAt: null });
    expect(outbox.tick(100).due).toEqual([]);
  });

  it('lets a late ack say what really happened after expiry', async () => {
    const outbox = open(1000);
    const { payment } = await outbox.accept(request());
    clock += 1000;
    expect(outbox.tick(10).expired).toEqual([payment.id]);
    outbox.recordAck('SPK-1', ack(payment.id, 'played'));
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('played');
    expect(outbox.history(payment.id).at(-1)).toMatchObject({ detail: 'late ack after expired: played' });
  });

  it("makes a reconnecting device's queued payments due now, but not delivered ones", async () => {
    const outbox = open();
    const a = (await outbox.accept(request())).payment;
    const b = (await outbox.accept(request({ amount: 1 }))).payment;
    outbox.recordDelivered('SPK-1', b.id);
    outbox.makeDueNow('SPK-1');
    await flush();
    expect(outbox.tick(10).due.map((d) => d.id)).toEqual([a.id]);
  });

  it('gives a delivered payment the longest backoff step before its next copy (its device is working through it)', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    outbox.recordDelivered('SPK-1', payment.id);
    await flush();
    expect(outbox.find(payment.id)?.nextAttemptAt).toBe(T0 + 8000); // maxMs, not the first step's 1 s
    clock = T0 + 7999;
    expect(outbox.tick(10).due).toEqual([]);
    clock = T0 + 8000;
    expect(outbox.tick(10).due.map((d) => [d.id, d.attempt])).toEqual([[payment.id, 2]]);
  });

  it('puts off a copy the dispatcher cannot send for a while: same attempt, next step, no "republished" event', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    clock = T0 + 1000;
    expect(outbox.tick(10, () => 'later').due).toEqual([]);
    expect(outbox.find(payment.id)).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 2000 });
    expect(outbox.history(payment.id).map((e) => e.event)).toEqual(['accepted']);
    clock = T0 + 2000;
    expect(outbox.tick(10, () => 'send').due.map((d) => d.attempt)).toEqual([2]);
    expect(outbox.history(payment.id).map((e) => e.event)).toEqual(['accepted', 'republished']);
  });

  it('keeps a held payment due, untouched, so it goes out first when its device has room', async () => {
    const outbox = open();
    const first = (await outbox.accept(request())).payment;
    const second = (await outbox.accept(request({ amount: 2 }))).payment;
    clock = T0 + 1000;
    expect(outbox.tick(10, () => 'hold').due).toEqual([]);
    expect(outbox.find(first.id)).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 1000 });
    clock = T0 + 1001;
    expect(outbox.tick(10).due.map((d) => d.id)).toEqual([first.id, second.id]);
  });

  it('leaves the devices it is told to skip out of the scan, so their backlog cannot fill a batch', async () => {
    const outbox = open();
    for (let i = 0; i < 5; i++) await outbox.accept(request({ amount: 10 + i }));
    const other = (await outbox.accept(request({ device: 'SPK-2' }))).payment;
    clock = T0 + 1000;
    expect(outbox.tick(2, () => 'send', ['SPK-1']).due.map((d) => d.id)).toEqual([other.id]);
    expect(outbox.tick(10).due.map((d) => d.device)).toEqual(['SPK-1', 'SPK-1', 'SPK-1', 'SPK-1', 'SPK-1']);
  });

  it('puts a payment for a device that is away off by the longest step, as the same attempt', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request());
    clock = T0 + 1000;
    expect(outbox.tick(10, () => 'away').due).toEqual([]);
    expect(outbox.find(payment.id)).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 1000 + 8000 });
  });

  it('never gives the same attempt to two processes sharing the database', async () => {
    const one = open();
    const two = open();
    for (let i = 0; i < 20; i++) await one.accept(request({ amount: i + 1 }));
    clock += 1000;
    const claimed = [...one.tick(10).due, ...two.tick(100).due, ...one.tick(100).due].map((d) => d.id);
    expect(claimed).toHaveLength(20);
    expect(new Set(claimed).size).toBe(20);
  });
});

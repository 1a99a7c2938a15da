/**
 * A PUBACK counts only for the copy it acknowledges. A speaker that cannot play a payment
 * PUBACKs it (it is in its NVS) and answers `rejected`/`audio-failed` moments later; when the
 * broker records that ack before the PUBACK, the PUBACK is old news: it must not turn the
 * retry back into `delivered` (and push it to the longest backoff step). Against a real SQLite
 * file and a fake clock, as outbox.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InFlight } from '../../broker/outbox/in-flight.ts';
import { Outbox, type PaymentRequest } from '../../broker/outbox/outbox.ts';
import { retryDelay, type RetryPolicy } from '../../broker/outbox/retry.ts';
import { registryFile } from '../../broker/data-dir.ts';
import { PROTOCOL_VERSION, type Ack } from '../../src/protocol/index.ts';

let dir: string;
let clock: number;
const opened: Outbox[] = [];
const T0 = Date.UTC(2026, 10, 24, 12);
const RETRY: RetryPolicy = { baseMs: 1000, maxMs: 8000 };

function open(): Outbox {
  const outbox = Outbox.open(dir, { sign: (n) => n, ttlMs: 60_000, retry: RETRY, now: () => clock, random: () => 1 });
  opened.push(outbox);
  return outbox;
}

const request: PaymentRequest = { device: 'SPK-1', amount: 500, currency: 'CNY', channel: 'alipay', kind: 'payment' };
const ack = (id: string, status: Ack['status'], extra: Partial<Ack> = {}): Ack => ({
  v: PROTOCOL_VERSION,
  id,
  device: 'SPK-1',
  status,
  at: clock,
  ...extra,
});
const audioFailed = (id: string) => ack(id, 'rejected', { reason: 'audio-failed', detail: 'no sound card' });
const flush = () => new Promise((r) => setImmediate(r));
const events = (outbox: Outbox, id: string) => outbox.history(id).map((e) => e.event);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-late-puback-'));
  clock = T0;
});

afterEach(() => {
  for (const o of opened.splice(0)) o.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a PUBACK recorded after the audio-failed ack of the same copy', () => {
  it('leaves the payment queued with the short retry, and no "delivered" after "retrying"', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request); // attempt 1 goes out
    clock += 5;
    await outbox.commitAck('SPK-1', audioFailed(payment.id));
    clock += 3;
    outbox.recordDelivered('SPK-1', payment.id, 1); // attempt 1's PUBACK, processed late
    await flush();
    expect(outbox.find(payment.id)).toMatchObject({
      status: 'queued',
      deliveredAt: null,
      nextAttemptAt: T0 + 5 + retryDelay(RETRY, 1, () => 1),
    });
    expect(events(outbox, payment.id)).toEqual(['accepted', 'retrying']);
  });

  it('is ignored too when the dispatcher no longer knows which copy it was for', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request);
    await outbox.commitAck('SPK-1', audioFailed(payment.id));
    outbox.recordDelivered('SPK-1', payment.id);
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('queued');
    expect(events(outbox, payment.id)).toEqual(['accepted', 'retrying']);
  });

  it("still counts the republished copy's PUBACK, and a second audio-failed ack answers that copy", async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request);
    await outbox.commitAck('SPK-1', audioFailed(payment.id));
    outbox.recordDelivered('SPK-1', payment.id, 1);
    await flush();
    clock = T0 + retryDelay(RETRY, 1, () => 1);
    expect(outbox.tick(10).due.map((d) => d.attempt)).toEqual([2]);
    outbox.recordDelivered('SPK-1', payment.id, 2);
    await flush();
    expect(outbox.find(payment.id)).toMatchObject({ status: 'delivered', deliveredAt: clock, attempts: 2 });
    await outbox.commitAck('SPK-1', audioFailed(payment.id));
    outbox.recordDelivered('SPK-1', payment.id, 2); // a repeat of copy 2's PUBACK
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('queued');
    expect(events(outbox, payment.id)).toEqual(['accepted', 'retrying', 'republished', 'delivered', 'retrying']);
  });

  it("ignores an older copy's PUBACK once a newer copy is out: that copy's own PUBACK counts", async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request);
    clock = T0 + retryDelay(RETRY, 1, () => 1);
    expect(outbox.tick(10).due.map((d) => d.attempt)).toEqual([2]);
    outbox.recordDelivered('SPK-1', payment.id, 1);
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('queued');
    outbox.recordDelivered('SPK-1', payment.id, 2);
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('delivered');
  });

  it('leaves the usual order alone: PUBACK, then the played ack', async () => {
    const outbox = open();
    const { payment } = await outbox.accept(request);
    clock += 5;
    outbox.recordDelivered('SPK-1', payment.id, 1);
    await flush();
    expect(outbox.find(payment.id)).toMatchObject({ status: 'delivered', nextAttemptAt: T0 + 5 + RETRY.maxMs });
    await outbox.commitAck('SPK-1', ack(payment.id, 'played', { text: '支付宝到账五元' }));
    outbox.recordDelivered('SPK-1', payment.id, 1);
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('played');
    expect(events(outbox, payment.id)).toEqual(['accepted', 'delivered', 'acked']);
  });
});

describe('the copy a PUBACK is for', () => {
  it('is the attempt the dispatcher noted when it took the copy, handed back on release', () => {
    const f = new InFlight(10, 1000);
    expect(f.take('P1', 'D', 0, true, 3)).toBe('ok');
    expect(f.release('P1')).toBe(3);
    expect(f.release('P1')).toBeUndefined();
    expect(f.take('P2', 'D', 0, false, 1)).toBe('ok'); // not connected here: not tracked, so unknown
    expect(f.release('P2')).toBeUndefined();
  });
});

describe('a database written before answered attempts were recorded', () => {
  it('opens, gains the column, and keeps its payments', async () => {
    fs.mkdirSync(path.dirname(registryFile(dir)), { recursive: true });
    const old = new Database(registryFile(dir));
    old.exec(`CREATE TABLE payments (
      id TEXT PRIMARY KEY, device TEXT NOT NULL, amount INTEGER NOT NULL CHECK (amount > 0), currency TEXT NOT NULL,
      channel TEXT NOT NULL, kind TEXT NOT NULL, idempotency_key TEXT UNIQUE, notification TEXT NOT NULL,
      status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, next_attempt_at INTEGER, delivered_at INTEGER, finished_at INTEGER,
      text TEXT, reason TEXT, detail TEXT)`);
    old
      .prepare(
        `INSERT INTO payments (id, device, amount, currency, channel, kind, notification, status, attempts, created_at,
         updated_at, expires_at, next_attempt_at) VALUES ('PAY-OLD', 'SPK-1', 500, 'CNY', 'alipay', 'payment', '{}',
         'queued', 1, ?, ?, ?, ?)`,
      )
      .run(T0, T0, T0 + 60_000, T0 + 1000);
    old.close();
    const outbox = open();
    await outbox.commitAck('SPK-1', audioFailed('PAY-OLD'));
    outbox.recordDelivered('SPK-1', 'PAY-OLD', 1);
    await flush();
    expect(outbox.find('PAY-OLD')?.status).toBe('queued');
    const { payment } = await outbox.accept(request);
    outbox.recordDelivered('SPK-1', payment.id, 1);
    await flush();
    expect(outbox.find(payment.id)?.status).toBe('delivered');
    open(); // a second opener finds the column already there
  });
});

import { randomBytes } from 'node:crypto';
/** Time from the broker, on the wire: requests and signed answers, and what a parser refuses. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalTimeAnswer,
  encodeTimeAnswer,
  encodeTimeRequest,
  makeNotification,
  parseTimeAnswer,
  timeNonce,
  parseTimeRequest,
  topics,
  TIME_NONCE_PATTERN,
  type TimeAnswer,
} from '../../src/protocol/index.ts';
import { signNotification, signTimeAnswer, verifyTimeAnswer } from '../../src/protocol/signing-node.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const NONCE = '0123456789abcdef0123456789abcdef';
const unsigned = { v: 1 as const, device: 'SPK-0001', nonce: NONCE, now: 1795528613108 };

describe('time topics', () => {
  it('are the device’s own time/req and time', () => {
    expect(topics.timeRequest('SPK-0001')).toBe('payspeaker/v1/devices/SPK-0001/time/req');
    expect(topics.time('SPK-0001')).toBe('payspeaker/v1/devices/SPK-0001/time');
    expect(topics.allTimeRequests).toBe('payspeaker/v1/devices/+/time/req');
  });
});

describe('time request', () => {
  it('a fresh nonce each time: 32 lowercase hex digits', () => {
    const a = timeNonce(randomBytes(16));
    expect(a).toMatch(TIME_NONCE_PATTERN);
    expect(a).toHaveLength(32);
    expect(timeNonce(randomBytes(16))).not.toBe(a);
  });

  it('round-trips', () => {
    expect(parseTimeRequest(encodeTimeRequest({ v: 1, nonce: NONCE }))).toEqual({
      ok: true,
      value: { v: 1, nonce: NONCE },
    });
  });

  it.each([
    ['{', 'malformed-json'],
    ['[]', 'not-an-object'],
    ['{"v":2,"nonce":"0123456789abcdef"}', 'unsupported-version'],
    ['{"v":1}', 'invalid-nonce'],
    ['{"v":1,"nonce":"0123456789ABCDEF"}', 'invalid-nonce'],
    ['{"v":1,"nonce":"0123456789abcde"}', 'invalid-nonce'],
    ['{"v":1,"nonce":"0123456789abcdef\\n"}', 'invalid-nonce'],
    [`{"v":1,"nonce":"${'a'.repeat(2000)}"}`, 'payload-too-large'],
  ])('refuses %s (%s) with a reason', (payload, reason) => {
    const parsed = parseTimeRequest(payload);
    expect(parsed).toMatchObject({ ok: false, reason });
    if (!parsed.ok) expect(parsed.detail.length).toBeGreaterThan(10);
  });
});

describe('time answer', () => {
  it('is signed over v, device, nonce and now, headed payspeaker/v1/time', () => {
    expect(Buffer.from(canonicalTimeAnswer(unsigned)).toString()).toBe(
      `payspeaker/v1/time\nv=1\ndevice=SPK-0001\nnonce=${NONCE}\nnow=1795528613108\n`,
    );
    const signed = signTimeAnswer({ ...unsigned, extra: 'dropped' } as typeof unsigned, privateKey);
    expect(Object.keys(signed)).toEqual(['v', 'device', 'nonce', 'now', 'sig']);
    const parsed = parseTimeAnswer(encodeTimeAnswer(signed), 'SPK-0001');
    expect(parsed).toEqual({ ok: true, value: signed });
    expect(verifyTimeAnswer(signed, publicKey)).toEqual({ ok: true });
  });

  it('a changed field, another key, or no signature does not verify', () => {
    const signed = signTimeAnswer(unsigned, privateKey);
    const bad = (a: TimeAnswer) => verifyTimeAnswer(a, publicKey);
    expect(bad({ ...signed, now: signed.now + 1 })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(bad({ ...signed, nonce: 'f'.repeat(32) })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(bad({ ...signed, device: 'SPK-0002' })).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(bad(signTimeAnswer(unsigned, other.privateKey))).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(bad(unsigned)).toMatchObject({ ok: false, detail: 'no signature' });
  });

  it('a notification’s signature never passes for a time answer’s', () => {
    const n = signNotification(
      makeNotification({
        id: 'PAY-1',
        device: 'SPK-0001',
        amount: 100,
        currency: 'CNY',
        channel: 'wechat',
        kind: 'payment',
        createdAt: unsigned.now,
      }),
      privateKey,
    );
    expect(verifyTimeAnswer({ ...unsigned, sig: n.sig }, publicKey)).toMatchObject({ ok: false });
  });

  it.each([
    ['{"v":1', 'malformed-json'],
    ['"time"', 'not-an-object'],
    [JSON.stringify({ ...unsigned, v: 2 }), 'unsupported-version'],
    [JSON.stringify({ ...unsigned, device: 'SPK-0002' }), 'wrong-device'],
    [JSON.stringify({ ...unsigned, nonce: 'xyz' }), 'invalid-nonce'],
    [JSON.stringify({ ...unsigned, now: '1795528613108' }), 'invalid-time'],
    [JSON.stringify({ ...unsigned, now: 1.5 }), 'invalid-time'],
    [JSON.stringify({ ...unsigned, now: -1 }), 'invalid-time'],
    [JSON.stringify({ ...unsigned, sig: 'AAAA' }), 'bad-signature'],
    [JSON.stringify({ ...unsigned, pad: 'x'.repeat(2000) }), 'payload-too-large'],
  ])('refuses %s (%s) with a reason', (payload, reason) => {
    const parsed = parseTimeAnswer(payload, 'SPK-0001');
    expect(parsed).toMatchObject({ ok: false, reason });
    if (!parsed.ok) expect(parsed.detail.length).toBeGreaterThan(10);
  });

  it('an unsigned answer parses (an insecure speaker may take it); verifying is a separate step', () => {
    expect(parseTimeAnswer(JSON.stringify(unsigned), 'SPK-0001')).toEqual({ ok: true, value: unsigned });
  });
});

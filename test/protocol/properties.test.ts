/**
 * Properties over the notification path (fast-check): whatever arrives, the parser answers
 * with a notification or a known rejection reason and never throws; signatures hold for every
 * valid notification and break under any change; whatever the parser accepts can be spoken.
 */
import { generateKeyPairSync } from 'node:crypto';
import currencyCodes from 'currency-codes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalNotification,
  CHANNELS,
  isKnownCurrency,
  KINDS,
  maxMinorUnits,
  MoneyError,
  parseAmount,
  parseNotification,
  REJECTION_REASONS,
  type Notification,
  type ParseResult,
} from '../../src/protocol/index.ts';
import { signNotification, verifyNotification } from '../../src/protocol/signing-node.ts';
import { LANGUAGES, utter } from '../../src/speech/index.ts';

const DEVICE = 'SPK-0001';
const CURRENCIES = currencyCodes.codes().filter(isKnownCurrency);
const SIGNED_FIELDS = ['v', 'id', 'device', 'amount', 'currency', 'channel', 'kind', 'createdAt'] as const;
const backend = generateKeyPairSync('ed25519');

/** A well-formed answer: ok with a notification addressed here, or a rejection with a known reason. */
function expectWellFormed(result: ParseResult): void {
  if (result.ok) {
    expect(result.notification.device).toBe(DEVICE);
    // Anything the parser accepts must be encodable for verification and speakable.
    expect(() => canonicalNotification(result.notification)).not.toThrow();
  } else {
    expect(REJECTION_REASONS).toContain(result.rejection.reason);
    expect(typeof result.rejection.detail).toBe('string');
  }
}

const safeInt = (min: number, max: number) => fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);

/** Any notification the protocol allows, edges (1, the largest amount, epoch 1 ms) included. */
const validNotification: fc.Arbitrary<Omit<Notification, 'sig'>> = fc.constantFrom(...CURRENCIES).chain((currency) =>
  fc.record({
    v: fc.constant(1 as const),
    id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/),
    device: fc.constant(DEVICE),
    amount: fc.oneof(fc.constant(1), fc.constant(maxMinorUnits(currency)), safeInt(1, maxMinorUnits(currency))),
    currency: fc.constant(currency),
    channel: fc.constantFrom(...CHANNELS),
    kind: fc.constantFrom(...KINDS),
    createdAt: fc.oneof(fc.constant(1), safeInt(1, 8.64e15)),
  }),
);

/** JSON texts for one value, including what JSON.stringify never writes. */
const rawValue = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-0',
    '1e400',
    '-1e400',
    '0x10',
    '1.0',
    '9007199254740993',
    '1e-400',
    '"\\u0000"',
    '"\\ud800"',
    '"СNY"',
    '"CNY "',
    '[]',
    '{}',
    'null',
    'true',
  ),
  fc
    .constantFrom(1, 12345, 'CNY', 'JPY', 'wechat', 'refund', 'PAY-1', DEVICE, 1_795_000_000_000)
    .map((v) => JSON.stringify(v)),
);
const key = fc.oneof(
  fc.constantFrom(...SIGNED_FIELDS, 'sig', '__proto__', 'constructor', 'toString', 'hasOwnProperty'),
  fc.string({ maxLength: 8 }),
);

describe('parseNotification never throws', () => {
  it('for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => expectWellFormed(parseNotification(bytes, DEVICE))),
      { numRuns: 1000 },
    );
  });

  it('for any string, astral planes and lone surrogates included', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
    );
    fc.assert(
      fc.property(text, (s) => expectWellFormed(parseNotification(s, DEVICE))),
      { numRuns: 1000 },
    );
  });

  it('for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => expectWellFormed(parseNotification(JSON.stringify(v), DEVICE))),
      { numRuns: 1000 },
    );
  });

  it('for any object built from valid, hostile and duplicated fields', () => {
    const entries = fc.array(fc.tuple(key, rawValue), { maxLength: 14 });
    fc.assert(
      fc.property(validNotification, entries, (n, extra) => {
        // Start from a valid notification so parsing gets past the first checks, then add,
        // replace (duplicate keys: the last one wins) and insert hostile fields.
        const text = `{${[...Object.entries(n).map(([k, v]) => [k, JSON.stringify(v)]), ...extra].map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
        expectWellFormed(parseNotification(text, DEVICE));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('signatures', () => {
  it('every valid notification signs, travels, parses and verifies', () => {
    fc.assert(
      fc.property(validNotification, (n) => {
        const signed = signNotification(n, backend.privateKey);
        const parsed = parseNotification(JSON.stringify(signed), DEVICE);
        expect(parsed).toEqual({ ok: true, notification: signed });
        if (parsed.ok) expect(verifyNotification(parsed.notification, backend.publicKey)).toEqual({ ok: true });
      }),
      { numRuns: 300 },
    );
  });

  it('changing any one signed field to any other value breaks the signature, without throwing', () => {
    // Hostile values, and the same field of another valid notification (valid-looking changes).
    const change = fc.constantFrom(...SIGNED_FIELDS).chain((field) =>
      fc.tuple(
        fc.constant(field),
        fc.oneof(
          fc.jsonValue(),
          fc.constantFrom(-0, Number.NaN, Infinity, 2 ** 53, 1.5, 'СNY', 'PAY-1\nv=1'),
          validNotification.map((o) => o[field] as unknown),
        ),
      ),
    );
    fc.assert(
      fc.property(validNotification, change, (n, [field, value]) => {
        const signed = signNotification(n, backend.privateKey);
        fc.pre(!Object.is(value, signed[field]));
        const altered = { ...signed, [field]: value } as Notification;
        expect(verifyNotification(altered, backend.publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' });
      }),
      { numRuns: 1000 },
    );
  });

  it('flipping any bit of the signature breaks it', () => {
    fc.assert(
      fc.property(validNotification, fc.integer({ min: 0, max: 511 }), (n, bit) => {
        const signed = signNotification(n, backend.privateKey);
        const bytes = Buffer.from(signed.sig!, 'base64url');
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        const result = verifyNotification({ ...signed, sig: bytes.toString('base64url') }, backend.publicKey);
        expect(result).toEqual({ ok: false, reason: 'bad-signature', detail: expect.stringMatching(/does not match/) });
      }),
      { numRuns: 300 },
    );
  });
});

describe('speaking what the parser accepts', () => {
  it('gives a non-empty sentence in every language and never throws', () => {
    fc.assert(
      fc.property(validNotification, fc.constantFrom(...LANGUAGES), (n, lang) => {
        const parsed = parseNotification(JSON.stringify(n), DEVICE);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        const { amount, currency, channel, kind } = parsed.notification;
        const said = utter({ type: 'payment', payment: { amount, currency, channel, kind } }, lang);
        expect(said.text.trim()).not.toBe('');
        expect(said.clips.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('parseAmount turns any text into minor units or a MoneyError, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constantFrom(...CURRENCIES), (text, currency) => {
        try {
          const minor = parseAmount(text, currency);
          expect(Number.isSafeInteger(minor) && minor > 0 && minor <= maxMinorUnits(currency)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(MoneyError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

/**
 * Hostile input, as a named table: each payload goes through what a speaker does with a
 * notification before it may speak — parse, verify the backend's signature, check freshness —
 * and must stop at the stated reason (or be accepted, and then say what was signed).
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkFreshness,
  describeValue,
  FRESHNESS_DEFAULTS,
  parseNotification,
  REJECTION_REASONS,
  type Notification,
  type RejectionReason,
} from '../../src/protocol/index.ts';
import { signNotification, verifyNotification } from '../../src/protocol/signing-node.ts';

const DEVICE = 'SPK-0001';
const NOW = 1_795_000_000_000;
const backend = generateKeyPairSync('ed25519');
const impostor = generateKeyPairSync('ed25519');

const base: Omit<Notification, 'sig'> = {
  v: 1,
  id: 'PAY-1',
  device: DEVICE,
  amount: 12345,
  currency: 'CNY',
  channel: 'wechat',
  kind: 'payment',
  createdAt: NOW - 1000,
};
const signedWith = (patch: Partial<Notification>, key = backend.privateKey) =>
  signNotification({ ...base, ...patch }, key);
const good = signedWith({});
const goodJson = JSON.stringify(good);
/** The good, signed notification with one field's JSON replaced by raw text (for what JSON.stringify cannot write). */
const withRaw = (field: keyof Notification, rawValue: string) =>
  JSON.stringify({ ...good, [field]: '@RAW@' }).replace('"@RAW@"', () => rawValue);
const withValue = (field: string, value: unknown) => JSON.stringify({ ...good, [field]: value });
const nested = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);

type Outcome = RejectionReason | 'accepted';

/** What a speaker does before it speaks; id dedupe comes after this and lives in the device. */
function receive(
  payload: string | Uint8Array,
  device = DEVICE,
): { outcome: Outcome; detail: string; notification?: Notification } {
  const parsed = parseNotification(payload, device);
  if (!parsed.ok) return { outcome: parsed.rejection.reason, detail: parsed.rejection.detail };
  const verified = verifyNotification(parsed.notification, backend.publicKey);
  if (!verified.ok) return { outcome: verified.reason, detail: verified.detail };
  const fresh = checkFreshness(parsed.notification.createdAt, NOW, FRESHNESS_DEFAULTS);
  if (!fresh.ok) return { outcome: fresh.reason, detail: fresh.detail };
  return { outcome: 'accepted', detail: '', notification: parsed.notification };
}

const MISMATCH = /signature does not match/;

// [name, payload, outcome, detail it must mention (optional)]
const HOSTILE: [string, string | Uint8Array, Outcome, RegExp?][] = [
  // Shapes that are not a notification at all.
  ['empty string', '', 'malformed-json'],
  ['whitespace only', ' \n\t ', 'malformed-json'],
  ['empty object', '{}', 'unsupported-version'],
  ['only a version', '{"v":1}', 'missing-field', /"id" is missing/],
  ['a JSON string', '"PAY-1"', 'not-an-object'],
  [
    'BOM-prefixed JSON (RFC 8259: senders must not add one; refused, and said so)',
    `\uFEFF${goodJson}`,
    'malformed-json',
    /byte order mark/,
  ],
  ['BOM-prefixed bytes', Buffer.from(`\uFEFF${goodJson}`), 'malformed-json', /byte order mark/],
  [
    'invalid UTF-8 inside an ignored field',
    Buffer.concat([Buffer.from(goodJson.slice(0, -1) + ',"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    'malformed-json',
    /not valid UTF-8/,
  ],
  ['trailing garbage after the object', `${goodJson} x`, 'malformed-json'],
  ['two objects back to back', goodJson + goodJson, 'malformed-json'],
  ['a comment', `/* hi */${goodJson}`, 'malformed-json'],
  // Size and depth.
  ['1 MB payload', Buffer.alloc(1 << 20, 0x20), 'payload-too-large', /at most 4096/],
  [
    'over 4,096 bytes in under 2,000 characters (bytes are counted)',
    withValue('pad', '€'.repeat(1300)),
    'payload-too-large',
  ],
  ['100,000 levels of nesting (refused by size before parsing)', nested(100_000), 'payload-too-large'],
  ['2,000 levels of nesting within the size limit', nested(2000), 'not-an-object'],
  ['1,800 levels of nesting as the amount', withRaw('amount', nested(1800)), 'invalid-amount', /"amount" is \[\[\[/],
  // Numbers JSON cannot say, or says in a way that is not an amount.
  ['NaN as literal text', withRaw('amount', 'NaN'), 'malformed-json'],
  ['Infinity as literal text', withRaw('amount', 'Infinity'), 'malformed-json'],
  ['1e400 (parses to Infinity)', withRaw('amount', '1e400'), 'invalid-amount', /Infinity/],
  ['-1e400', withRaw('amount', '-1e400'), 'invalid-amount', /-Infinity/],
  ['-0 amount', withRaw('amount', '-0'), 'invalid-amount'],
  ['-0 createdAt', withRaw('createdAt', '-0'), 'invalid-timestamp'],
  ['hex literal amount', withRaw('amount', '0x3039'), 'malformed-json'],
  ['amount as hex string', withValue('amount', '0x3039'), 'invalid-amount'],
  ['amount in Arabic-Indic digits', withValue('amount', '١٢٣٤٥'), 'invalid-amount'],
  ['amount in full-width digits', withValue('amount', '１２３４５'), 'invalid-amount'],
  ['amount as a decimal string', withValue('amount', '123.45'), 'invalid-amount'],
  ['integer beyond MAX_SAFE_INTEGER', withRaw('amount', '9007199254740993'), 'invalid-amount'],
  ['fractional amount', withRaw('amount', '12345.5'), 'invalid-amount'],
  ['amount above the largest readable', withValue('amount', 10_000_000_000_000), 'amount-out-of-range'],
  ['createdAt beyond the Date range', withValue('createdAt', 8.64e15 + 1), 'invalid-timestamp'],
  ['fractional createdAt', withValue('createdAt', NOW + 0.5), 'invalid-timestamp'],
  // JSON numbers have no integer type (RFC 8259): 12345.0 and 1.2345e4 ARE 12345, the value the
  // backend signed, so they are accepted. The signature covers the parsed value, not the text.
  ['12345.0 (an integral float is the integer)', withRaw('amount', '12345.0'), 'accepted'],
  ['1.2345e4 (the same number)', withRaw('amount', '1.2345e4'), 'accepted'],
  // Wrong types.
  ['version as a string', withValue('v', '1'), 'unsupported-version'],
  ['version true', withValue('v', true), 'unsupported-version'],
  ['numeric id', withValue('id', 42), 'invalid-id'],
  ['id with a newline (canonical-encoding injection)', withValue('id', 'PAY-1\nv=2'), 'invalid-id'],
  ['id with a NUL', withValue('id', 'PAY\u00001'), 'invalid-id'],
  ['boolean amount', withValue('amount', true), 'invalid-amount'],
  ['boolean kind', withValue('kind', true), 'unknown-kind'],
  ['array channel', withValue('channel', ['wechat']), 'unknown-channel'],
  ['channel with a zero-width space', withValue('channel', 'wechat\u200b'), 'unknown-channel'],
  ['currency with a Cyrillic С lookalike', withValue('currency', '\u0421NY'), 'unknown-currency'],
  ['currency with a trailing space', withValue('currency', 'CNY '), 'unknown-currency'],
  ['currency in lower case', withValue('currency', 'cny'), 'unknown-currency'],
  // Prototype keys: JSON.parse makes them own data properties; they must change nothing.
  ['__proto__ key carrying an amount', `{"__proto__":{"amount":999999},${goodJson.slice(1)}`, 'accepted'],
  [
    '__proto__ as the only amount',
    `{"__proto__":{"amount":999999},${JSON.stringify({ ...good, amount: undefined }).slice(1)}`,
    'missing-field',
    /"amount" is missing/,
  ],
  ['constructor.prototype key', `{"constructor":{"prototype":{"kind":"refund"}},${goodJson.slice(1)}`, 'accepted'],
  // Addressing.
  [
    "another device's signed notification on this device's topic",
    JSON.stringify(signedWith({ device: 'SPK-0002' })),
    'wrong-device',
    /addressed to "SPK-0002"/,
  ],
  [
    "device rewritten to this device's id",
    JSON.stringify({ ...signedWith({ device: 'SPK-0002' }), device: DEVICE }),
    'bad-signature',
    MISMATCH,
  ],
  ['device with a trailing newline', withValue('device', `${DEVICE}\n`), 'wrong-device'],
  // Signatures.
  ['unsigned', JSON.stringify(base), 'bad-signature', /no signature/],
  ['sig null', withValue('sig', null), 'bad-signature', /no signature/],
  ['sig empty', withValue('sig', ''), 'bad-signature', /"sig" is ""/],
  ['truncated signature', withValue('sig', good.sig!.slice(0, 80)), 'bad-signature', /86 base64url/],
  ['signature as a number', withValue('sig', 7), 'bad-signature', /86 base64url/],
  [
    'signature swapped from another notification',
    withValue('sig', signedWith({ id: 'PAY-2' }).sig),
    'bad-signature',
    MISMATCH,
  ],
  [
    'signature over a different amount',
    JSON.stringify({ ...signedWith({ amount: 100 }), amount: 1_000_000 }),
    'bad-signature',
    MISMATCH,
  ],
  ['signed by another key', JSON.stringify(signedWith({}, impostor.privateKey)), 'bad-signature', MISMATCH],
  [
    'refund turned into a payment',
    JSON.stringify({ ...signedWith({ kind: 'refund' }), kind: 'payment' }),
    'bad-signature',
    MISMATCH,
  ],
  // Duplicate keys: JSON.parse keeps the last one, and the signature is checked on what was parsed.
  [
    'duplicate amount appended after the signed one',
    `${goodJson.slice(0, -1)},"amount":999999}`,
    'bad-signature',
    MISMATCH,
  ],
  ['duplicate amount before the signed one (the signed one wins)', `{"amount":999999,${goodJson.slice(1)}`, 'accepted'],
  // Time.
  ['stale: signed 25 hours ago', JSON.stringify(signedWith({ createdAt: NOW - 25 * 3600_000 })), 'expired', /25h ago/],
  [
    'from the future: signed 1 hour ahead',
    JSON.stringify(signedWith({ createdAt: NOW + 3600_000 })),
    'from-the-future',
    /1h ahead/,
  ],
  [
    'late but inside the window: 23 hours old',
    JSON.stringify(signedWith({ createdAt: NOW - 23 * 3600_000 })),
    'accepted',
  ],
];

/** Handled after these checks, by the device; listed so the table is the complete inventory. */
const COVERED_ELSEWHERE = [
  [
    'reused id (a replay inside the freshness window)',
    'acked `duplicate` and not spoken: test/device/speaker.test.ts, firmware.test.ts (across a reboot)',
  ],
];

describe('hostile notifications', () => {
  it('has a named table of at least 30 inputs, each with a known reason', () => {
    expect(HOSTILE.length + COVERED_ELSEWHERE.length).toBeGreaterThanOrEqual(30);
    expect(new Set(HOSTILE.map(([name]) => name)).size).toBe(HOSTILE.length);
    for (const [, , outcome] of HOSTILE)
      expect(outcome === 'accepted' || REJECTION_REASONS.includes(outcome)).toBe(true);
  });

  const rows = HOSTILE.map(([name, payload, outcome, detail]) => ({ name, payload, outcome, detail }));
  it.each(rows)('$name → $outcome', ({ payload, outcome, detail }) => {
    const result = receive(payload);
    expect(result.outcome).toBe(outcome);
    if (detail) expect(result.detail).toMatch(detail);
    // What gets through is exactly what the backend signed.
    if (outcome === 'accepted')
      expect(result.notification).toMatchObject({ amount: good.amount, kind: good.kind, device: DEVICE });
  });

  it('leaves Object.prototype untouched', () => {
    expect(({} as Record<string, unknown>).amount).toBeUndefined();
    expect(({} as Record<string, unknown>).kind).toBeUndefined();
  });

  it('the multi-byte row really is over the byte limit and under it in characters', () => {
    const text = HOSTILE.find(([name]) => name.startsWith('over 4,096 bytes'))![1] as string;
    expect(Buffer.byteLength(text)).toBeGreaterThan(4096);
    expect(text.length).toBeLessThan(2000);
  });

  // Even without the size limit, nesting must not escape as a RangeError: V8's JSON.parse is
  // iterative. JSON.stringify is not, so describeValue must (and does) catch its RangeError.
  it('survives 100,000 levels of nesting without the size limit', () => {
    const deep = `{"v":1,"id":${nested(100_000)}}`;
    expect(() => JSON.parse(deep)).not.toThrow();
    expect(() => JSON.stringify(JSON.parse(deep))).toThrow(RangeError);
    expect(describeValue(JSON.parse(deep))).toBe('[object Object]');
  });
});

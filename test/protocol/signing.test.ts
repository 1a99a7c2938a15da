import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  canonicalNotification,
  checkFreshness,
  FRESHNESS_DEFAULTS,
  parseNotification,
  type Notification,
} from '../../src/protocol/index.ts';
import {
  publicKeyFromString,
  publicKeyToString,
  signNotification,
  verifyNotification,
} from '../../src/protocol/signing-node.ts';
import {
  BACKEND_PRIVATE_KEY_FILE,
  BACKEND_PUBLIC_KEY_FILE,
  loadOrCreateBackendKeys,
} from '../../broker/backend-keys.ts';

const backend = generateKeyPairSync('ed25519');
const impostor = generateKeyPairSync('ed25519');
const unsigned: Omit<Notification, 'sig'> = {
  v: 1,
  id: 'PAY-1',
  device: 'SPK-0001',
  amount: 12345,
  currency: 'CNY',
  channel: 'wechat',
  kind: 'payment',
  createdAt: 1_795_000_000_000,
};
const signed = signNotification(unsigned, backend.privateKey);
const MISMATCH = 'signature does not match: the notification was altered or signed by another key';
const MALFORMED = 'signature is not 64 bytes of base64url';

describe('canonicalNotification', () => {
  it('is the header plus one name=value line per signed field, in a fixed order', () => {
    expect(Buffer.from(canonicalNotification(signed)).toString()).toBe(
      'payspeaker/v1/notification\nv=1\nid=PAY-1\ndevice=SPK-0001\namount=12345\ncurrency=CNY\nchannel=wechat\nkind=payment\ncreatedAt=1795000000000\n',
    );
  });

  it('does not depend on key order, extra fields or the signature', () => {
    const shuffled = Object.fromEntries([
      ['sig', 'x'],
      ['extra', 1],
      ...Object.entries(unsigned).reverse(),
    ]) as unknown as Notification;
    expect(canonicalNotification(shuffled)).toEqual(canonicalNotification(signed));
  });

  it.each([
    ['a newline smuggled into the device', { device: 'SPK-0001\ncurrency=USD' }],
    ['an id outside the id rule', { id: 'PAY 1' }],
    ['a fractional amount', { amount: 1.5 }],
    ['an unsafe integer', { amount: 2 ** 60 }],
    ['a lower-case currency', { currency: 'cny' }],
    ['an unknown channel', { channel: 'venmo' }],
    ['version 2', { v: 2 }],
  ])('refuses to encode %s', (_name, patch) => {
    expect(() => canonicalNotification({ ...unsigned, ...patch } as Notification)).toThrow(/cannot sign or verify/);
  });
});

describe('signNotification / verifyNotification', () => {
  it('round-trips through the wire format', () => {
    expect(signed.sig).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const parsed = parseNotification(JSON.stringify(signed), 'SPK-0001');
    expect(parsed).toEqual({ ok: true, notification: signed });
    if (parsed.ok) expect(verifyNotification(parsed.notification, backend.publicKey)).toEqual({ ok: true });
  });

  it('returns a copy of exactly the signed fields, replacing any old signature', () => {
    const input = { ...unsigned, sig: 'old', note: 'not signed' } as Notification;
    const out = signNotification(input, backend.privateKey);
    expect(Object.keys(out)).toEqual([
      'v',
      'id',
      'device',
      'amount',
      'currency',
      'channel',
      'kind',
      'createdAt',
      'sig',
    ]);
    expect(out.sig).not.toBe('old');
    expect(input.sig).toBe('old');
  });

  it.each([
    ['amount + 1', { amount: unsigned.amount + 1 }],
    ['currency', { currency: 'USD' }],
    ['channel', { channel: 'alipay' }],
    ['kind', { kind: 'refund' }],
    ['id', { id: 'PAY-2' }],
    ['device', { device: 'SPK-0002' }],
    ['createdAt', { createdAt: unsigned.createdAt + 1 }],
  ])('rejects an altered %s', (_name, patch) => {
    expect(verifyNotification({ ...signed, ...patch } as Notification, backend.publicKey)).toEqual({
      ok: false,
      reason: 'bad-signature',
      detail: MISMATCH,
    });
  });

  it('rejects an altered version (it cannot even be encoded)', () => {
    const result = verifyNotification({ ...signed, v: 2 } as unknown as Notification, backend.publicKey);
    expect(result).toMatchObject({ ok: false, reason: 'bad-signature', detail: expect.stringMatching(/"v" is 2/) });
  });

  it('rejects a signature made with another key', () => {
    const forged = signNotification(unsigned, impostor.privateKey);
    expect(verifyNotification(forged, backend.publicKey)).toEqual({
      ok: false,
      reason: 'bad-signature',
      detail: MISMATCH,
    });
  });

  it('rejects a signature over raw bytes that are not the canonical encoding', () => {
    const sig = sign(null, Buffer.from(JSON.stringify(unsigned)), backend.privateKey).toString('base64url');
    expect(verifyNotification({ ...unsigned, sig }, backend.publicKey)).toMatchObject({ ok: false, detail: MISMATCH });
  });

  const other = signNotification({ ...unsigned, id: 'PAY-2', amount: 999_999 }, backend.privateKey);
  const sig = signed.sig!;
  it.each([
    ['missing', undefined, 'no signature'],
    ['empty', '', 'no signature'],
    ['truncated by one character', sig.slice(0, -1), MALFORMED],
    ['truncated to 64 characters', sig.slice(0, 64), MALFORMED],
    ['one character too long', `${sig}A`, MALFORMED],
    ['padded with ==', `${sig}==`, MALFORMED],
    ['standard base64 (+ and /)', Buffer.from(sig, 'base64url').toString('base64'), MALFORMED],
    ['non-base64url characters', `${sig.slice(0, 40)}!!${sig.slice(42)}`, MALFORMED],
    [
      'a non-canonical last character (same bytes)',
      sig.slice(0, -1) + String.fromCharCode(sig.charCodeAt(85) + 1),
      MALFORMED,
    ],
    ['a number', 42, MALFORMED],
    ['swapped from another notification', other.sig, MISMATCH],
    ['all zero bytes', Buffer.alloc(64).toString('base64url'), MISMATCH],
  ])('rejects a signature that is %s', (_name, value, detail) => {
    const n = { ...signed, sig: value } as Notification;
    expect(verifyNotification(n, backend.publicKey)).toEqual({ ok: false, reason: 'bad-signature', detail });
  });

  it('throws (a configuration error, not hostile input) when given a key of the wrong kind', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => verifyNotification(signed, rsa.publicKey)).toThrow(
      /needs an Ed25519 public key, got a rsa public key/,
    );
    expect(() => signNotification(unsigned, backend.publicKey)).toThrow(/needs an Ed25519 private key/);
    expect(verifyNotification(signed, backend.privateKey)).toEqual({ ok: true });
  });
});

describe('public keys as strings', () => {
  const pem = publicKeyToString(backend.publicKey);
  const raw = backend.publicKey.export({ format: 'jwk' }).x!;

  it('writes PEM and reads back PEM and the raw base64url key', () => {
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    expect(publicKeyToString(backend.privateKey)).toBe(pem);
    for (const text of [pem, `\n  ${pem}  \n`, raw]) {
      const key = publicKeyFromString(text);
      expect(publicKeyToString(key)).toBe(pem);
      expect(verifyNotification(signed, key)).toEqual({ ok: true });
    }
  });

  it.each([
    [
      'a private key PEM',
      backend.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      /PEM "PRIVATE KEY", not a "PUBLIC KEY".*never give a device the private key/,
    ],
    [
      'an RSA public key',
      publicKeyToString(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
      /rsa key, not Ed25519/,
    ],
    ['a broken PEM', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', /PEM cannot be read/],
    ['raw key, one character short', raw.slice(1), /neither a PEM public key nor 32 bytes of base64url/],
    ['raw key in standard base64 with padding', Buffer.from(raw, 'base64url').toString('base64'), /neither/],
    ['an empty string', '', /neither/],
  ])('refuses %s with a clear message', (_name, text, message) => {
    expect(() => publicKeyFromString(text)).toThrow(message);
  });
});

describe('checkFreshness', () => {
  const now = 1_795_000_000_000;
  const opts = FRESHNESS_DEFAULTS;

  it('accepts anything from maxAgeMs old to maxSkewMs ahead, edges included', () => {
    for (const createdAt of [now, now - opts.maxAgeMs, now + opts.maxSkewMs, now - 60_000]) {
      expect(checkFreshness(createdAt, now, opts)).toEqual({ ok: true });
    }
  });

  it('reports expired and from-the-future with what to do', () => {
    expect(checkFreshness(now - opts.maxAgeMs - 1, now, opts)).toMatchObject({
      ok: false,
      reason: 'expired',
      detail: expect.stringMatching(/24h ago.*at most 24h old/),
    });
    expect(checkFreshness(now + opts.maxSkewMs + 1, now, opts)).toMatchObject({
      ok: false,
      reason: 'from-the-future',
      detail: expect.stringMatching(/5m ahead.*NTP/),
    });
  });

  it('throws on a non-finite clock rather than accepting everything', () => {
    expect(() => checkFreshness(now, Number.NaN, opts)).toThrow(RangeError);
  });
});

describe('loadOrCreateBackendKeys', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-keys-'));
    dirs.push(dir);
    return path.join(dir, 'broker');
  };
  afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('creates a private key (0600) and its public key, then reloads the same pair', () => {
    const dir = tempDir();
    const first = loadOrCreateBackendKeys(dir);
    expect(first.created).toBe(true);
    expect(fs.statSync(path.join(dir, BACKEND_PRIVATE_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dir, BACKEND_PRIVATE_KEY_FILE), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(fs.readFileSync(path.join(dir, BACKEND_PUBLIC_KEY_FILE), 'utf8')).toBe(first.publicKeyPem);
    expect(fs.readdirSync(dir).sort()).toEqual([BACKEND_PRIVATE_KEY_FILE, BACKEND_PUBLIC_KEY_FILE]);

    const again = loadOrCreateBackendKeys(dir);
    expect(again.created).toBe(false);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    const n = signNotification(unsigned, again.privateKey);
    expect(verifyNotification(n, publicKeyFromString(first.publicKeyPem))).toEqual({ ok: true });
  });

  it('restores a missing or stale public key file from the private key, and tightens a loose private key', () => {
    const dir = tempDir();
    const { publicKeyPem } = loadOrCreateBackendKeys(dir);
    fs.writeFileSync(path.join(dir, BACKEND_PUBLIC_KEY_FILE), publicKeyToString(impostor.publicKey));
    fs.chmodSync(path.join(dir, BACKEND_PRIVATE_KEY_FILE), 0o644);
    expect(loadOrCreateBackendKeys(dir).publicKeyPem).toBe(publicKeyPem);
    expect(fs.readFileSync(path.join(dir, BACKEND_PUBLIC_KEY_FILE), 'utf8')).toBe(publicKeyPem);
    expect(fs.statSync(path.join(dir, BACKEND_PRIVATE_KEY_FILE)).mode & 0o777).toBe(0o600);
    fs.rmSync(path.join(dir, BACKEND_PUBLIC_KEY_FILE));
    expect(loadOrCreateBackendKeys(dir).created).toBe(false);
    expect(fs.readFileSync(path.join(dir, BACKEND_PUBLIC_KEY_FILE), 'utf8')).toBe(publicKeyPem);
  });

  it.each([
    ['garbage', 'not a key'],
    ['empty (a crash while writing)', ''],
    [
      'an RSA key',
      generateKeyPairSync('rsa', { modulusLength: 1024 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
    ],
  ])('refuses a corrupt key file (%s), naming it and saying what to do', (_name, content) => {
    const dir = tempDir();
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, BACKEND_PRIVATE_KEY_FILE);
    fs.writeFileSync(file, content, { mode: 0o600 });
    expect(() => loadOrCreateBackendKeys(dir)).toThrow(`backend signing key ${file}`);
    expect(() => loadOrCreateBackendKeys(dir)).toThrow(
      /delete .* to make a new key .* re-provisioned with the new public key/,
    );
    expect(fs.readFileSync(file, 'utf8')).toBe(content);
  });

  // Processes released at the same instant: without an atomic create-if-absent, each would keep
  // (and sign with) its own key. A rename-based version of this module fails this test.
  it('gives processes that start at once one and the same key', async () => {
    const module = fileURLToPath(new URL('../../broker/backend-keys.ts', import.meta.url));
    const code = `const m = await import(${JSON.stringify(module)}); const [dir, at] = process.argv.slice(1);
      while (Date.now() < Number(at)); const k = m.loadOrCreateBackendKeys(dir);
      console.log(JSON.stringify({ created: k.created, pem: k.publicKeyPem }));`;
    const run = (dir: string, at: number) =>
      new Promise<{ created: boolean; pem: string }>((resolve, reject) => {
        const args = ['--import', 'tsx', '--input-type=module', '-e', code, dir, String(at)];
        execFile(process.execPath, args, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
        );
      });
    for (let round = 0; round < 2; round++) {
      const dir = tempDir();
      const at = Date.now() + 2000;
      const results = await Promise.all([run(dir, at), run(dir, at), run(dir, at)]);
      expect(new Set(results.map((r) => r.pem)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(fs.readFileSync(path.join(dir, BACKEND_PUBLIC_KEY_FILE), 'utf8')).toBe(results[0]!.pem);
      expect(fs.readdirSync(dir).sort()).toEqual([BACKEND_PRIVATE_KEY_FILE, BACKEND_PUBLIC_KEY_FILE]);
    }
  });
});

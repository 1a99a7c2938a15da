/**
 * The tab's Ed25519 key (device/drivers/browser/verifying-key.ts) through WebCrypto. Node 20's
 * globalThis.crypto.subtle implements the same Web Crypto API as Chromium, so the import and the
 * verification run here for real; the browser test (test/console) runs them in Chromium too.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { webVerifyingKey } from '../../device/drivers/browser/verifying-key.ts';
import { canonicalNotification, makeNotification, verifyNotificationWith } from '../../src/protocol/index.ts';
import { publicKeyToString, signNotification } from '../../src/protocol/signing-node.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const pem = publicKeyToString(publicKey);

describe('webVerifyingKey', () => {
  it('verifies what node:crypto signed, and nothing else', async () => {
    const key = await webVerifyingKey(pem);
    const n = signNotification(
      makeNotification({
        id: 'PAY-1',
        device: 'SPK-1',
        amount: 12345,
        currency: 'CNY',
        channel: 'wechat',
        kind: 'payment',
        createdAt: Date.now(),
      }),
      privateKey,
    );
    expect(await verifyNotificationWith(n, key)).toEqual({ ok: true });
    const altered = await verifyNotificationWith({ ...n, amount: 12346 }, key);
    expect(altered).toMatchObject({ ok: false, reason: 'bad-signature' });
    const other = generateKeyPairSync('ed25519').privateKey;
    const forged = { ...n, sig: sign(null, canonicalNotification(n), other).toString('base64url') };
    expect(await verifyNotificationWith(forged, key)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  it('keeps the PEM it was made from', async () => {
    expect((await webVerifyingKey(pem)).pem).toBe(pem.trim());
  });

  it('refuses what is not an Ed25519 public key PEM, saying what to use', async () => {
    await expect(webVerifyingKey('not a key')).rejects.toThrow(/not a PEM "PUBLIC KEY" block/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    await expect(webVerifyingKey(rsa.toString())).rejects.toThrow(/must be an Ed25519 key/);
  });
});

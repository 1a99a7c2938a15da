/**
 * The backend's public key in a browser tab: WebCrypto's Ed25519 (Chromium 137+, Firefox 129+,
 * Safari 17+). The firmware asks it through the VerifyingKey interface (src/protocol/signing.ts),
 * exactly as it asks node:crypto on a Node board.
 */
import type { VerifyingKey } from '../../../src/protocol/index.ts';

const ED25519 = { name: 'Ed25519' } as const;

/**
 * Imports an SPKI PEM (`-----BEGIN PUBLIC KEY-----`, as GET /v1/info and provisioning give it).
 * Rejects with a sentence saying what is wrong: not a public key PEM, not Ed25519, or a browser
 * without Ed25519 in WebCrypto.
 */
export async function webVerifyingKey(
  pem: string,
  subtle: SubtleCrypto = globalThis.crypto.subtle,
): Promise<VerifyingKey> {
  const match = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  if (!match)
    throw new Error('the backend public key is not a PEM "PUBLIC KEY" block: use the broker\'s backend-key.pub.pem');
  const binary = atob(match[1]!.replace(/\s+/g, ''));
  const der = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
  let key: CryptoKey;
  try {
    key = await subtle.importKey('spki', der, ED25519, false, ['verify']);
  } catch (err) {
    throw new Error(
      `this browser cannot use the backend's public key (${(err as Error).message}): it must be an Ed25519 key, and the browser must support Ed25519 in WebCrypto (Chromium 137 or later)`,
      { cause: err },
    );
  }
  return {
    pem: pem.trim(),
    async verify(data, signature) {
      try {
        return await subtle.verify(ED25519, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
      } catch {
        // A malformed signature is not this key's signature.
        return false;
      }
    },
  };
}

/**
 * Bytes and text without Node's Buffer, so the protocol code runs unchanged in the firmware on
 * Node 18, in a browser tab, and in the broker: UTF-8 through TextEncoder/TextDecoder (globals in
 * all three) and base64url by hand (atob/btoa know only standard base64).
 */

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the text, as Buffer#toString does: JSON.parse then refuses
// it, and the protocol calls a BOM-prefixed payload malformed.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes of `text` once encoded as UTF-8, without encoding it when it is ASCII-only. */
export function utf8Length(text: string): number {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(text) ? text.length : encoder.encode(text).byteLength;
}

/**
 * Strict UTF-8: null for bytes that are not valid UTF-8. A lenient decode turns broken bytes into
 * U+FFFD, which does not re-encode to the same bytes; a round trip rather than TextDecoder's
 * `fatal` option, which Node builds without ICU do not support.
 */
export function decodeUtf8Strict(bytes: Uint8Array): string | null {
  const text = decoder.decode(bytes);
  const again = encoder.encode(text);
  if (again.byteLength !== bytes.byteLength) return null;
  for (let i = 0; i < again.byteLength; i++) if (again[i] !== bytes[i]) return null;
  return text;
}

/** UTF-8 text of `payload`, lenient (U+FFFD for broken bytes): for parsers that check JSON next. */
export function decodeUtf8(payload: Uint8Array | string): string {
  return typeof payload === 'string' ? payload : decoder.decode(payload);
}

/** Unpadded base64url (RFC 4648 §5) of `bytes`. */
export function toBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes of a base64url string; the caller has checked its alphabet and length (a pattern). */
export function fromBase64url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

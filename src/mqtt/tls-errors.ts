/**
 * TLS verification errors in plain words, for every MQTT client: tools (connect.ts) and the
 * speaker's long-lived session (device/connection.ts). No platform imports: the firmware in a
 * browser tab shares this file (a browser reports no such codes, so it never matches there).
 */

const NOT_SIGNED_BY_CA = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

export type TlsError = Error & { code?: unknown; host?: string; cert?: { subjectaltname?: string } };

/**
 * A plain-language line for a TLS verification error, or null when `err` is not one. `caSource`
 * names where the trusted CA came from (a file, a device config); without one, the system's CAs.
 * Exported so a long-lived client (the device) can log the same words.
 */
export function describeTlsError(url: string, err: TlsError, caSource?: string): string | null {
  const code = typeof err.code === 'string' ? err.code : '';
  if (
    NOT_SIGNED_BY_CA.has(code) ||
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
    code === 'CERT_HAS_EXPIRED' ||
    code === 'CERT_NOT_YET_VALID'
  ) {
    return describeCertificateProblem(url, code, err, caSource);
  }
  return null;
}

function describeCertificateProblem(url: string, code: string, err: TlsError, caSource?: string): string {
  const trusted = caSource ? `the CA in ${caSource}` : "the system's trusted CAs";
  const detail = err.message;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = err.cert?.subjectaltname
      ? `; it names ${err.cert.subjectaltname.replace(/IP Address:/g, 'IP:')}`
      : '';
    return (
      `the broker's certificate at ${url} is not valid for the host this client dialled (${detail}${names}): ` +
      `dial a host the certificate names, or issue a new one that names it (npx payspeaker certs --host HOST --force)`
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `the broker's certificate at ${url} is out of date (${code}: ${detail}): check this machine's clock, or issue a new one (npx payspeaker certs --force)`;
  }
  return (
    `the broker's certificate at ${url} is not signed by ${trusted} (${code}: ${detail}): ` +
    `use the broker's DIR/certs/ca.pem (provision the device again, or pass --ca FILE), or check that the URL points at the right broker`
  );
}

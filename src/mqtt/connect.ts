/**
 * Opening an MQTT connection for a short-lived tool (pay, tests): one attempt, a deadline,
 * and an error that says what to do, instead of MQTT.js's default of retrying forever.
 */
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { disableNagle } from './no-delay.ts';
import { describeTlsError, type TlsError } from './tls-errors.ts';
import { describeWrongPort } from './wrong-port.ts';

export { describeTlsError };

export class BrokerUnreachableError extends Error {
  constructor(url: string, cause: string) {
    super(
      `cannot connect to the broker at ${url} (${cause}): start one with "npx payspeaker broker" or pass --broker URL`,
    );
    this.name = 'BrokerUnreachableError';
  }
}

/** The URL reaches something that is not an MQTT listener (the broker's HTTP API port). */
export class BrokerWrongPortError extends BrokerUnreachableError {
  constructor(url: string, explanation: string) {
    super(url, 'not an MQTT port');
    this.message = explanation;
    this.name = 'BrokerWrongPortError';
  }
}

const CONNACK_REASONS: Record<number, string> = {
  1: 'it does not speak this MQTT version',
  2: 'it rejected the client id',
  3: 'it is unavailable',
  4: 'it refused the username or password',
  5: 'this client is not authorized',
};

/** The broker answered, and said no: credentials, not the network, are the problem. */
export class BrokerRefusedError extends Error {
  constructor(
    url: string,
    readonly code: number,
  ) {
    super(
      `the broker at ${url} refused the connection (CONNACK ${code}: ${CONNACK_REASONS[code] ?? 'unknown reason'}): ` +
        `point --data at the broker's data directory (its broker/backend.json holds the backend's credentials), or run the broker with --insecure`,
    );
    this.name = 'BrokerRefusedError';
  }
}

/** True for mqtts:// and wss:// (and MQTT.js's aliases), where a server certificate is checked. */
export function isTlsUrl(url: string): boolean {
  return /^(mqtts|wss|ssl|tls):/i.test(url.trim());
}

/**
 * MQTT.js options that make a TLS connection trust `caPem` (the development CA from
 * `payspeaker certs`) instead of the system's CAs, and always verify the certificate and the
 * host name. Nothing for a plain mqtt:// or ws:// URL, or without a CA (the system's CAs apply).
 */
export function tlsClientOptions(url: string, caPem: string | null | undefined): IClientOptions {
  if (!isTlsUrl(url)) return {};
  const opts: IClientOptions = { rejectUnauthorized: true };
  if (caPem) opts.ca = caPem;
  let host = '';
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    // MQTT.js reports a malformed URL itself
  }
  // SNI carries names only (RFC 6066); for an IP address the certificate's IP SAN is checked.
  if (host && net.isIP(host) === 0) opts.servername = host;
  return opts;
}

/** The broker's TLS certificate was refused: wrong CA, wrong host name, or out of date. */
export class BrokerCertificateError extends Error {
  readonly code: string;
  constructor(
    readonly url: string,
    err: TlsError,
    caSource?: string,
  ) {
    super(describeTlsError(url, err, caSource) ?? err.message);
    this.code = typeof err.code === 'string' ? err.code : 'TLS';
    this.name = 'BrokerCertificateError';
  }
}

export function connectOnce(
  url: string,
  opts: IClientOptions = {},
  timeoutMs = 5000,
  caSource?: string,
): Promise<MqttClient> {
  let client: MqttClient;
  try {
    client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: timeoutMs, ...opts });
  } catch (err) {
    return Promise.reject(new BrokerUnreachableError(url, (err as Error).message));
  }
  return new Promise((resolve, reject) => {
    const fail = (cause: string) => {
      cleanup();
      client.end(true);
      reject(new BrokerUnreachableError(url, cause));
    };
    const onError = (err: Error & { code?: string | number }) => {
      if (typeof err.code === 'number' && CONNACK_REASONS[err.code]) {
        cleanup();
        client.end(true);
        return reject(new BrokerRefusedError(url, err.code));
      }
      if (describeTlsError(url, err, caSource) !== null) {
        cleanup();
        client.end(true);
        return reject(new BrokerCertificateError(url, err, caSource));
      }
      // Speaking TLS to a plain port (or the reverse) shows up as a protocol error, not a refusal.
      if (
        isTlsUrl(url) &&
        (err.code === 'EPROTO' || err.code === 'ECONNRESET' || err.code === 'ERR_SSL_WRONG_VERSION_NUMBER')
      ) {
        return fail(
          `${err.code} before the TLS handshake finished: is ${url} a TLS port? mqtts:// and wss:// need the broker's --tls ports (8883, 8443)`,
        );
      }
      // The broker's HTTP API port answers an MQTT CONNECT with an HTTP 400, which MQTT.js can
      // only report as a malformed packet: say which port this is instead.
      const wrongPort = describeWrongPort(err, url);
      if (wrongPort) {
        cleanup();
        client.end(true);
        return reject(new BrokerWrongPortError(url, wrongPort));
      }
      fail(err.code ? `${err.code}` : err.message);
    };
    const onClose = () => fail('connection closed');
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.once('connect', () => {
      cleanup();
      resolve(disableNagle(client));
    });
    client.on('error', onError);
    client.on('close', onClose);
  });
}

export function endClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}

/**
 * Opening an MQTT connection for a short-lived tool (pay, tests): one attempt, a deadline,
 * and an error that says what to do, instead of MQTT.js's default of retrying forever.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { disableNagle } from './no-delay.ts';

export class BrokerUnreachableError extends Error {
  constructor(url: string, cause: string) {
    super(`cannot connect to the broker at ${url} (${cause}): start one with "npx payspeaker broker" or pass --broker URL`);
    this.name = 'BrokerUnreachableError';
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
  constructor(url: string, readonly code: number) {
    super(
      `the broker at ${url} refused the connection (CONNACK ${code}: ${CONNACK_REASONS[code] ?? 'unknown reason'}): ` +
        `point --data at the broker's data directory (its broker/backend.json holds the backend's credentials), or run the broker with --insecure`,
    );
    this.name = 'BrokerRefusedError';
  }
}

export function connectOnce(url: string, opts: IClientOptions = {}, timeoutMs = 5000): Promise<MqttClient> {
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

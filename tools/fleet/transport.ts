/**
 * How a fleet's device opens its MQTT socket: from a chosen source address (source-addresses.ts),
 * and so that the fleet keeps a handle on the client to cut its link in a reconnect storm. The
 * firmware takes this as its transport (device/connection.ts: MqttTransport); everything above
 * the socket — CONNECT, session, backoff, every check — is still its own.
 */
import net from 'node:net';
import mqtt, { MqttClient, type IClientOptions } from 'mqtt';

/** Makes an MQTT.js client as mqtt.connect does: a firmware transport (device/connection.ts), and the raw clients' maker. */
export type ClientMaker = (brokerUrl: string, options: IClientOptions) => MqttClient;

/**
 * A transport binding to `localAddress` (null: the system chooses) that hands each client it
 * makes to `made`. MQTT.js's tcp transport (connect/tcp.js) passes only host, port and path to
 * net.createConnection, so for mqtt:// the socket is made here; its tls transport passes every
 * option to tls.connect and its ws transport `wsOptions` to the HTTP request, so for those the
 * address rides in the options.
 */
export function fleetTransport(localAddress: string | null, made: (client: MqttClient) => void): ClientMaker {
  return (brokerUrl, options) => {
    const client = localAddress ? boundClient(brokerUrl, options, localAddress) : mqtt.connect(brokerUrl, options);
    made(client);
    return client;
  };
}

function boundClient(brokerUrl: string, options: IClientOptions, localAddress: string): MqttClient {
  const url = new URL(brokerUrl);
  const protocol = url.protocol.replace(/:$/, '');
  if (protocol === 'mqtts' || protocol === 'ssl' || protocol === 'tls')
    return mqtt.connect(brokerUrl, { ...options, localAddress } as IClientOptions);
  if (protocol === 'ws' || protocol === 'wss')
    return mqtt.connect(brokerUrl, { ...options, wsOptions: { ...options.wsOptions, localAddress } });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 1883);
  // Called again on every reconnect: each attempt is a new socket from the same address.
  const client = new MqttClient(() => net.createConnection({ host, port, localAddress }), {
    ...options,
    protocol: 'mqtt',
    host,
    port,
  });
  // As mqtt.connect does: an 'error' with no listener left would otherwise throw.
  client.on('error', () => {});
  return client;
}

/** What a storm needs of a client: whether it is connected, and its socket. */
export interface LinkHandle {
  readonly connected: boolean;
  readonly stream?: unknown;
}

/**
 * Cuts a client's link at once, as a dying cell or a restarted load balancer would: a TCP reset
 * where the socket allows it (no FIN handshake, no TIME_WAIT holding the source port for 60 s,
 * which 100,000 reconnects would run out of), else a plain destroy (TLS, WebSocket streams).
 * The client sees its stream close and reconnects on its own schedule.
 */
export function cutLink(client: LinkHandle): void {
  const stream = client.stream as { destroy(): void } | undefined;
  if (!stream) return;
  try {
    if (stream instanceof net.Socket && !('encrypted' in stream)) return void stream.resetAndDestroy();
  } catch {
    // a socket that is not (yet) a TCP handle: destroy below
  }
  stream.destroy();
}

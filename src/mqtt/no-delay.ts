/**
 * MQTT.js leaves Nagle's algorithm on. A speaker writes a PUBACK and then its own ack as two
 * small packets; with Nagle the second waits for the peer's delayed TCP ACK (~40 ms on Linux).
 * Turning it off after every (re)connect removes that wait from every payment.
 */
/** Any client with a socket and a 'connect' event: MQTT.js's, or a fleet's light one. */
interface WithStream {
  readonly stream?: unknown;
  on(event: 'connect', listener: () => void): unknown;
}

export function disableNagle<C extends WithStream>(client: C): C {
  const apply = () => {
    // A TCP or TLS socket has setNoDelay; a WebSocket stream (a browser tab) has nothing to turn off.
    const stream = client.stream as { setNoDelay?: (on: boolean) => void } | undefined;
    if (typeof stream?.setNoDelay === 'function') stream.setNoDelay(true);
  };
  apply();
  client.on('connect', apply);
  return client;
}

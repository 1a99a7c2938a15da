/**
 * The broker's log lines about clients and refused connections, split out of broker.ts so that
 * startBroker reads as the wiring it is: aedes's client events, failed TLS handshakes and refused
 * WebSocket upgrades. Each noisy one goes through the shared LogThrottle (broker/limits.ts): at
 * most one line a second per address, with a count of what it stands for.
 */
import type { Aedes } from 'aedes';
import type { WebSocketListenOptions } from './listeners.ts';
import type { LogThrottle } from './limits.ts';
import { remoteAddress } from './auth.ts';
import type { Logger } from '../src/log.ts';

/**
 * A client that gives up during the TLS handshake — typically a device that does not trust our
 * CA, or that dialled a name the certificate does not carry — says so only with an alert; one
 * line a second per address.
 */
export function handshakeLogger(
  log: Logger,
  throttle: LogThrottle,
): (address: string, err: Error & { code?: string }) => void {
  return (address, err) => {
    const count = throttle.note(`tls:${address}`);
    if (count === null) return;
    const hint = /unknown ca|bad certificate|certificate unknown|socket hang up|ECONNRESET/i.test(
      `${err.code ?? ''} ${err.message}`,
    )
      ? ': the client hung up mid-handshake, usually because it does not trust our certificate (give it DIR/certs/ca.pem; check the host name it dials is in the certificate)'
      : '';
    log.warn(
      { address, err: err.message, failed: count },
      `TLS handshake with ${address} failed${count > 1 ? ` (${count} since the last line)` : ''}${hint}`,
    );
  };
}

/** Upgrades refused for their Origin, and connections closed for never upgrading: one line a second per address. */
export function webSocketRefusalLogger(
  log: Logger,
  throttle: LogThrottle,
  timeoutMs: number,
): NonNullable<WebSocketListenOptions['onRefused']> {
  return (address, why, detail) => {
    const count = throttle.note(`ws-${why}:${address}`);
    if (count === null) return;
    const times = count > 1 ? ` (${count} since the last line)` : '';
    if (why === 'origin')
      log.warn(
        { address, origin: detail, refused: count },
        `refused a WebSocket upgrade from ${address}${times}: a browser page at ${detail} may not connect (allow it with --ws-origin ${detail})`,
      );
    else
      log.warn(
        { address, closed: count },
        `closed a WebSocket connection from ${address}${times}: no upgrade request within ${timeoutMs} ms`,
      );
  };
}

export function logClientEvents(aedes: Aedes, log: Logger, throttle: LogThrottle): void {
  aedes.on('client', (client) => log.debug({ client: client.id }, 'client connected'));
  aedes.on('clientDisconnect', (client) => log.debug({ client: client.id }, 'client disconnected'));
  aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'client error'));
  // Garbage bytes, early hang-ups and refused CONNECTs all land here: one line a second per address.
  aedes.on('connectionError', (client, err) => {
    const address = client ? remoteAddress(client) : 'unknown address';
    const count = throttle.note(`error:${address}`);
    if (count !== null)
      log.warn(
        { client: client?.id, address, err: err.message, errors: count },
        count > 1 ? `connection error (${count} from ${address} since the last line)` : 'connection error',
      );
  });
}

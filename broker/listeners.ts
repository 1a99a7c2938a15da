/**
 * Network listeners that feed connections to aedes: plain MQTT over TCP, MQTT over WebSocket,
 * and (with a certificate) their TLS forms, mqtts and wss. Each returns a closer, so the broker
 * can shut down in order; the TLS ones also take a new certificate while running (SIGHUP).
 *
 * What a connection must get through before aedes sees it (issue 12): the per-address rate
 * limit at TCP accept, on every listener (for ws/wss before any HTTP parsing or TLS work); a TLS
 * handshake finished within its timeout, else the socket is closed; for ws/wss an upgrade
 * request within the same bound, else closed, and an `Origin` the policy allows, else 403.
 */
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';

/**
 * What the broker's limits need from a listener (broker/limits.ts): whether to accept a new
 * connection from an address at all, and a chance to guard its byte stream before aedes sees it.
 */
export interface ConnectionGuard {
  /** Called once per accepted socket, before any byte is read; false drops it at once. */
  admit(address: string): boolean;
  /** Wraps the stream aedes will read (the packet-size cap). */
  guard(stream: Duplex, address: string): void;
  /** Largest WebSocket message accepted (ws `maxPayload`); undefined leaves ws's default. */
  maxWsPayload?: number;
}

export interface Listener {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function listenError(err: NodeJS.ErrnoException, what: string, host: string, port: number, flag: string): Error {
  if (err.code === 'EADDRINUSE') {
    return new Error(
      `${what} port ${port} on ${host} is already in use (another broker?): stop it or choose another with ${flag}`,
    );
  }
  if (err.code === 'EACCES') {
    return new Error(`${what} port ${port} on ${host} needs privileges: choose a port above 1023 with ${flag}`);
  }
  return new Error(`cannot listen for ${what} on ${host}:${port}: ${err.message}`);
}

function listen(server: net.Server, host: string, port: number, what: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, what, host, port, flag)));
    server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** A TLS socket's peer; after a failed handshake it is gone from the TLS socket but not from the TCP one under it. */
function peerAddress(socket: tls.TLSSocket): string {
  return (
    socket.remoteAddress ?? (socket as unknown as { _parent?: net.Socket })._parent?.remoteAddress ?? 'unknown address'
  );
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function listenTcp(aedes: Aedes, host: string, port: number, limits?: ConnectionGuard): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const address = socket.remoteAddress ?? 'unknown address';
    if (limits && !limits.admit(address)) {
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    if (limits) limits.guard(socket, address);
    socket.setNoDelay(true); // acks are tiny: do not let Nagle hold them for 40 ms
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  const bound = await listen(server, host, port, 'MQTT', '--port');
  return {
    url: `mqtt://${urlHost(host)}:${bound}`,
    port: bound,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** How long a connection may take over its TLS handshake, or its WebSocket upgrade, by default. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** A server certificate and key (PEM) for the TLS listeners, and who hears of failed handshakes. */
export interface TlsListenOptions {
  cert: string;
  key: string;
  /** A handshake not finished by then is aborted and its socket closed. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** A client that gave up during the handshake (say, it does not trust our CA), or timed out. */
  onHandshakeError?: (address: string, err: Error & { code?: string }) => void;
}

/** A listener whose certificate can be replaced while it runs (SIGHUP): new handshakes use it. */
export interface TlsListener extends Listener {
  setSecureContext(pems: { cert: string; key: string }): void;
}

const SECURE_CONTEXT = { minVersion: 'TLSv1.2' } as const;

/**
 * Node aborts a handshake at `handshakeTimeout` and reports every failed one as
 * `tlsClientError`, but once that event has a listener it leaves the socket open: a client
 * that sends nothing, or half a ClientHello, would hold a descriptor for good. So the socket is
 * destroyed here, after the listener has heard why.
 */
function closeFailedHandshakes(server: tls.Server, onError?: TlsListenOptions['onHandshakeError']): void {
  server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => {
    const address = peerAddress(socket);
    socket.on('error', () => {});
    socket.destroy();
    onError?.(address, err);
  });
}

/**
 * MQTT over TLS (mqtts). The rate limit applies to the raw TCP connection, before the
 * handshake, so a flood of connections costs no TLS work; aedes gets the decrypted stream.
 */
export async function listenTls(
  aedes: Aedes,
  host: string,
  port: number,
  opts: TlsListenOptions,
  limits?: ConnectionGuard,
): Promise<TlsListener> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      cert: opts.cert,
      key: opts.key,
      ...SECURE_CONTEXT,
      handshakeTimeout: opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    },
    (socket) => {
      const address = socket.remoteAddress ?? 'unknown address';
      if (limits) limits.guard(socket, address);
      socket.setNoDelay(true);
      aedes.handle(socket);
    },
  );
  server.on('connection', (raw: net.Socket) => {
    const address = raw.remoteAddress ?? 'unknown address';
    if (limits && !limits.admit(address)) {
      raw.on('error', () => {});
      raw.destroy();
      return;
    }
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
  });
  closeFailedHandshakes(server, opts.onHandshakeError);
  const bound = await listen(server, host, port, 'MQTT-over-TLS', '--tls-port');
  return {
    url: `mqtts://${urlHost(host)}:${bound}`,
    port: bound,
    setSecureContext: (pems) => server.setSecureContext({ cert: pems.cert, key: pems.key, ...SECURE_CONTEXT }),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** What a WebSocket listener checks before it upgrades a connection. */
export interface WebSocketListenOptions {
  /** An upgrade request not made by then (after the TLS handshake, for wss) closes the socket. Default 10 s. */
  upgradeTimeoutMs?: number;
  /** Which browser pages may connect (their `Origin` header); omitted: any. */
  origins?: { check(origin: string | undefined): { ok: true } | { ok: false; origin: string } };
  /** An upgrade refused (403) for its Origin, or a connection closed for not upgrading in time. */
  onRefused?: (address: string, why: 'origin' | 'upgrade-timeout', detail?: string) => void;
  /** Serve wss (HTTPS) with this certificate instead of ws. */
  tls?: TlsListenOptions;
}

function refuseUpgrade(socket: Duplex, status: string, text: string): void {
  const body = `${text}\n`;
  socket.on('error', () => {});
  socket.end(
    `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Do not wait for the client to close its side.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * MQTT over WebSocket; with `opts.tls`, over secure WebSocket (wss) on an HTTPS server.
 *
 * Before a connection reaches aedes: the per-address rate limit at TCP accept (a flood of
 * upgrade requests costs no HTTP parsing or TLS work); the TLS handshake within its timeout;
 * the upgrade request within `upgradeTimeoutMs`; its Origin on the allow list, else 403.
 */
export async function listenWebSocket(
  aedes: Aedes,
  host: string,
  port: number,
  limits?: ConnectionGuard,
  opts: WebSocketListenOptions = {},
): Promise<Listener & Partial<TlsListener>> {
  const tlsOpts = opts.tls;
  const scheme = tlsOpts ? 'wss' : 'ws';
  const upgradeTimeoutMs = opts.upgradeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const answer = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res
      .writeHead(426, { 'content-type': 'text/plain', connection: 'close' })
      .end(`MQTT over WebSocket: connect with an MQTT client to ${scheme}://host:port/mqtt\n`);
  };
  const server = tlsOpts
    ? https.createServer(
        {
          cert: tlsOpts.cert,
          key: tlsOpts.key,
          ...SECURE_CONTEXT,
          handshakeTimeout: tlsOpts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
        },
        answer,
      )
    : http.createServer(answer);
  if (tlsOpts) closeFailedHandshakes(server as https.Server, tlsOpts.onHandshakeError);

  // Every raw TCP connection: rate-limited at accept, tracked so close() ends them all.
  const sockets = new Set<net.Socket>();
  server.on('connection', (raw: net.Socket) => {
    const address = raw.remoteAddress ?? 'unknown address';
    if (limits && !limits.admit(address)) {
      raw.on('error', () => {});
      raw.destroy();
      return;
    }
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
  });

  // A connection (after its TLS handshake, for wss) has upgradeTimeoutMs to ask for the upgrade.
  const waiting = new WeakMap<object, NodeJS.Timeout>();
  const armUpgradeTimer = (socket: net.Socket) => {
    if (socket.destroyed) return;
    const timer = setTimeout(() => {
      opts.onRefused?.(socket.remoteAddress ?? 'unknown address', 'upgrade-timeout');
      socket.destroy();
    }, upgradeTimeoutMs);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  };
  server.on(tlsOpts ? 'secureConnection' : 'connection', armUpgradeTimer);

  const wss = new WebSocketServer({ noServer: true, ...(limits?.maxWsPayload && { maxPayload: limits.maxWsPayload }) });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const address = req.socket.remoteAddress ?? 'unknown address';
    const verdict = opts.origins?.check(req.headers.origin) ?? { ok: true };
    if (!verdict.ok) {
      clearTimeout(waiting.get(socket));
      opts.onRefused?.(address, 'origin', verdict.origin);
      refuseUpgrade(
        socket,
        '403 Forbidden',
        `WebSocket connections from pages at ${verdict.origin} are not allowed by this broker (allow it with --ws-origin)`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clearTimeout(waiting.get(socket));
      const stream = createWebSocketStream(ws);
      if (limits) limits.guard(stream, address);
      // A client that vanishes mid-frame makes the stream error; aedes handles the close.
      stream.on('error', () => ws.terminate());
      aedes.handle(stream as unknown as net.Socket, req);
    });
  });
  const bound = await listen(
    server,
    host,
    port,
    tlsOpts ? 'MQTT-over-secure-WebSocket' : 'MQTT-over-WebSocket',
    tlsOpts ? '--wss-port' : '--ws-port',
  );
  return {
    url: `${scheme}://${urlHost(host)}:${bound}/mqtt`,
    port: bound,
    ...(tlsOpts && {
      setSecureContext: (pems: { cert: string; key: string }) =>
        (server as https.Server).setSecureContext({ cert: pems.cert, key: pems.key, ...SECURE_CONTEXT }),
    }),
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

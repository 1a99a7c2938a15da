/**
 * Network listeners that feed connections to aedes: plain MQTT over TCP, MQTT over WebSocket,
 * and (with a certificate) their TLS forms, mqtts and wss. Each returns a closer, so the broker
 * can shut down in order.
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

/** A server certificate and key (PEM) for the TLS listeners, and who hears of failed handshakes. */
export interface TlsListenOptions {
  cert: string;
  key: string;
  /** A client that gave up during the handshake (say, it does not trust our CA). */
  onHandshakeError?: (address: string, err: Error & { code?: string }) => void;
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
): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 },
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
  server.on('tlsClientError', (err: Error & { code?: string }, socket) =>
    opts.onHandshakeError?.(peerAddress(socket), err),
  );
  const bound = await listen(server, host, port, 'MQTT-over-TLS', '--tls-port');
  return {
    url: `mqtts://${urlHost(host)}:${bound}`,
    port: bound,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** MQTT over WebSocket; with `tls`, over secure WebSocket (wss) on an HTTPS server. */
export async function listenWebSocket(
  aedes: Aedes,
  host: string,
  port: number,
  limits?: ConnectionGuard,
  tlsOpts?: TlsListenOptions,
): Promise<Listener> {
  const scheme = tlsOpts ? 'wss' : 'ws';
  const answer = (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res
      .writeHead(426, { 'content-type': 'text/plain' })
      .end(`MQTT over WebSocket: connect with an MQTT client to ${scheme}://host:port/mqtt\n`);
  };
  const server = tlsOpts
    ? https.createServer({ cert: tlsOpts.cert, key: tlsOpts.key, minVersion: 'TLSv1.2' }, answer)
    : http.createServer(answer);
  if (tlsOpts?.onHandshakeError) {
    const onError = tlsOpts.onHandshakeError;
    server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) =>
      onError(peerAddress(socket), err),
    );
  }
  const wss = new WebSocketServer({ server, ...(limits?.maxWsPayload && { maxPayload: limits.maxWsPayload }) });
  wss.on('connection', (socket, req) => {
    const address = req.socket.remoteAddress ?? 'unknown address';
    if (limits && !limits.admit(address)) {
      socket.terminate();
      return;
    }
    const stream = createWebSocketStream(socket);
    if (limits) limits.guard(stream, address);
    // A client that vanishes mid-frame makes the stream error; aedes handles the close.
    stream.on('error', () => socket.terminate());
    aedes.handle(stream as unknown as net.Socket, req);
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
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

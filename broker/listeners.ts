/**
 * Network listeners that feed connections to aedes: plain MQTT over TCP and MQTT over
 * WebSocket. Each returns a closer, so the broker can shut down in order.
 */
import net from 'node:net';
import http from 'node:http';
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
    return new Error(`${what} port ${port} on ${host} is already in use (another broker?): stop it or choose another with ${flag}`);
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

export async function listenWebSocket(aedes: Aedes, host: string, port: number, limits?: ConnectionGuard): Promise<Listener> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with an MQTT client to ws://host:port/mqtt\n');
  });
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
  const bound = await listen(server, host, port, 'MQTT-over-WebSocket', '--ws-port');
  return {
    url: `ws://${urlHost(host)}:${bound}/mqtt`,
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

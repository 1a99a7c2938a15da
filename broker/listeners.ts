/**
 * Network listeners that feed connections to aedes: plain MQTT over TCP and MQTT over
 * WebSocket. Each returns a closer, so the broker can shut down in order.
 */
import net from 'node:net';
import http from 'node:http';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Aedes } from 'aedes';

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

export async function listenTcp(aedes: Aedes, host: string, port: number): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
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

export async function listenWebSocket(aedes: Aedes, host: string, port: number): Promise<Listener> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with an MQTT client to ws://host:port/mqtt\n');
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    const stream = createWebSocketStream(socket);
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

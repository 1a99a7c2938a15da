/** Plain TCP helpers for the fault proxy's tests: an echo server and a client that records how it ended. */
import net, { type AddressInfo, type Socket } from 'node:net';

export interface EchoServer {
  port: number;
  close(): Promise<void>;
}

/** Sends back every byte it receives, on 127.0.0.1. */
export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: bound once, then released. */
export { freePort } from '../../tools/chaos/ports.ts';

export interface Client {
  socket: Socket;
  received: Buffer[];
  /** How the connection ended: the error code if any, and whether a FIN arrived first. */
  ended: Promise<{ error: string | null; sawEnd: boolean }>;
  /** Resolves once `n` bytes in all have arrived. */
  receive(n: number): Promise<Buffer>;
}

export function connect(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const received: Buffer[] = [];
    let error: string | null = null;
    let sawEnd = false;
    const ended = new Promise<{ error: string | null; sawEnd: boolean }>((done) =>
      socket.on('close', () => done({ error, sawEnd })),
    );
    const waiters: (() => void)[] = [];
    socket.on('data', (d: Buffer) => {
      received.push(d);
      for (const w of waiters.splice(0)) w();
    });
    socket.on('end', () => (sawEnd = true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
      reject(err);
    });
    const receive = (n: number) =>
      new Promise<Buffer>((done) => {
        const check = () => (Buffer.concat(received).length >= n ? done(Buffer.concat(received)) : waiters.push(check));
        check();
      });
    socket.once('connect', () => resolve({ socket, received, ended, receive }));
  });
}

/** The TCP handles this process holds open. */
export function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
}

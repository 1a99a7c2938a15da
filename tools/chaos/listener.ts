/**
 * The proxy's listening socket, which can be stopped and started again on the same port: while
 * it is stopped, clients get ECONNREFUSED, exactly what they see when the broker is down.
 */
import net, { type AddressInfo, type Socket } from 'node:net';

const HINTS: Record<string, string> = {
  EADDRINUSE: 'another program is using that port: pick another (port 0 picks a free one)',
  EACCES: 'ports below 1024 need privileges: pick one above 1023',
  EADDRNOTAVAIL: 'that address is not on this machine: use 127.0.0.1 or one of its own addresses',
};

export class Listener {
  private server: net.Server | null = null;

  constructor(
    readonly host: string,
    private boundPort: number,
    private readonly onConnection: (socket: Socket) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /** The port actually bound (port 0 resolved), kept for restarts. */
  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const hint = HINTS[err.code ?? ''] ?? 'check the address and port';
        reject(
          new Error(
            `the fault proxy cannot listen on ${this.host}:${this.boundPort} (${err.code ?? err.message}): ${hint}`,
          ),
        );
      });
      server.listen(this.boundPort, this.host, () => resolve());
    });
    // After listening, an error (EMFILE on accept) must not crash the process: report it.
    server.removeAllListeners('error').on('error', this.onError);
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening at once; connections already accepted are not touched. */
  stop(): void {
    this.server?.close();
    this.server = null;
  }
}

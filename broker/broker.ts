/**
 * The embedded broker: aedes 1.x with a TCP and a WebSocket listener, plus the playback
 * tracker. Everything binds to 127.0.0.1 by default; port 0 picks a free port (tests).
 */
import { Aedes } from 'aedes';
import { listenTcp, listenWebSocket, type Listener } from './listeners.ts';
import { PlaybackTracker } from './tracker.ts';
import { silentLogger, type Logger } from '../src/log.ts';

export interface BrokerOptions {
  host?: string;
  /** MQTT over TCP; 0 picks a free port. Default 1883. */
  port?: number;
  /** MQTT over WebSocket; 0 picks a free port, null disables it. Default 8080. */
  wsPort?: number | null;
  log?: Logger;
}

export interface RunningBroker {
  readonly aedes: Aedes;
  readonly tracker: PlaybackTracker;
  readonly mqttUrl: string;
  readonly wsUrl: string | null;
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<RunningBroker> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? silentLogger;
  const aedes = await Aedes.createBroker();
  const tracker = new PlaybackTracker(log);
  await tracker.attach(aedes);
  logClientEvents(aedes, log);

  const listeners: Listener[] = [];
  try {
    listeners.push(await listenTcp(aedes, host, opts.port ?? 1883));
    if (opts.wsPort !== null) listeners.push(await listenWebSocket(aedes, host, opts.wsPort ?? 8080));
  } catch (err) {
    await closeAll(aedes, listeners);
    throw err;
  }
  const [tcp, ws] = listeners;
  log.info({ mqtt: tcp!.url, ws: ws?.url ?? null }, 'broker listening');

  let closing: Promise<void> | null = null;
  return {
    aedes,
    tracker,
    mqttUrl: tcp!.url,
    wsUrl: ws?.url ?? null,
    close: () => (closing ??= closeAll(aedes, listeners).then(() => log.info('broker stopped'))),
  };
}

async function closeAll(aedes: Aedes, listeners: Listener[]): Promise<void> {
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
  await Promise.all(listeners.map((l) => l.close()));
}

function logClientEvents(aedes: Aedes, log: Logger): void {
  aedes.on('client', (client) => log.debug({ client: client.id }, 'client connected'));
  aedes.on('clientDisconnect', (client) => log.debug({ client: client.id }, 'client disconnected'));
  aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'client error'));
  aedes.on('connectionError', (client, err) => log.warn({ client: client?.id, err: err.message }, 'connection error'));
}

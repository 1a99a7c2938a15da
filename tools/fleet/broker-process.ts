/**
 * The fleet's embedded broker (broker/broker.ts: aedes, anonymous, no WebSocket) in a process
 * of its own (broker-host.ts): it gets a core and a file table of its own instead of sharing
 * the generator's.
 */
import type { ChildProcess } from 'node:child_process';
import { forkEntry, nextMessage, reap } from './child.ts';
import type { ProcessSample } from './messages.ts';

export type FromHost =
  { t: 'listening'; url: string } | { t: 'memory'; memory: ProcessSample } | { t: 'failed'; message: string };

export interface BrokerProcess {
  readonly url: string;
  readonly pid: number;
  memory(): Promise<ProcessSample>;
  stop(): Promise<void>;
}

export async function startBrokerProcess(): Promise<BrokerProcess> {
  const child: ChildProcess = forkEntry('./broker-host.ts', ['--expose-gc']);
  const started = await nextMessage<FromHost, { url?: string; failure?: string }>(
    child,
    (m) => (m.t === 'listening' ? { url: m.url } : m.t === 'failed' ? { failure: m.message } : undefined),
    'embedded broker',
  );
  if (!started.url) throw new Error(`the embedded broker could not start: ${started.failure}`);
  return {
    url: started.url,
    pid: child.pid!,
    memory: () => {
      const reply = nextMessage<FromHost, ProcessSample>(
        child,
        (m) => (m.t === 'memory' ? m.memory : undefined),
        'embedded broker',
      );
      child.send({ t: 'memory' });
      return reply;
    },
    async stop() {
      if (child.connected) child.send({ t: 'stop' });
      await reap(child, 5000);
    },
  };
}

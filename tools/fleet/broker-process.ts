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

/** The embedded broker did not start (its message says why and what to do): the CLI's exit 7. */
export class EmbeddedBrokerError extends Error {
  override name = 'EmbeddedBrokerError';
}

/**
 * V8's default old space here is about 4 GB. aedes holds ~20 KB per connection, and more while
 * a storm's reconnects and their queued QoS 1 messages pile up: past ~40,000 devices the broker
 * gets room in proportion (48 KB each on top of 2 GB), so a 100,000-speaker run is not ended by
 * the heap limit rather than by anything it measures.
 */
function heapFor(devices: number): string[] {
  const mb = Math.ceil(2048 + (devices * 48) / 1024);
  return mb > 4096 ? [`--max-old-space-size=${mb}`] : [];
}

export interface BrokerProcess {
  readonly url: string;
  readonly pid: number;
  memory(): Promise<ProcessSample>;
  stop(): Promise<void>;
}

/**
 * `timeKeyPem`: the run's backend private key (PKCS#8 PEM), so the broker signs the time answers
 * the speakers ask for on connect. Passed in the child's environment, not its arguments, which
 * any user of the machine can read in `ps`.
 */
export async function startBrokerProcess(timeKeyPem: string | null = null, devices = 0): Promise<BrokerProcess> {
  const env = {
    ...(timeKeyPem ? { PAYSPEAKER_FLEET_TIME_KEY: timeKeyPem } : {}),
    PAYSPEAKER_FLEET_DEVICES: String(devices),
  };
  const child: ChildProcess = forkEntry('./broker-host.ts', ['--expose-gc', ...heapFor(devices)], env);
  const started = await nextMessage<FromHost, { url?: string; failure?: string }>(
    child,
    (m) => (m.t === 'listening' ? { url: m.url } : m.t === 'failed' ? { failure: m.message } : undefined),
    'embedded broker',
  );
  if (!started.url) throw new EmbeddedBrokerError(`the embedded broker could not start: ${started.failure}`);
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

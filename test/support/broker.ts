/** A real aedes broker on an ephemeral loopback port, for one test file. */
import { startBroker, type RunningBroker } from '../../broker/broker.ts';

export function startTestBroker(): Promise<RunningBroker> {
  return startBroker({ host: '127.0.0.1', port: 0, wsPort: 0 });
}

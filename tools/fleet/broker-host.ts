/** Entry point of the embedded broker's process (forked by broker-process.ts): answers `memory` and `stop`. */
import { startBroker } from '../../broker/broker.ts';
import type { FromHost } from './broker-process.ts';
import { sampleProcess } from './sample.ts';

const send = (m: FromHost) => process.send?.(m);

try {
  const broker = await startBroker({ port: 0, wsPort: null });
  const stop = () => void broker.close().finally(() => process.exit(0));
  process.on('message', (m: { t: string }) => {
    if (m.t === 'stop') return stop();
    if (m.t === 'memory') send({ t: 'memory', memory: sampleProcess() });
  });
  process.on('disconnect', stop);
  send({ t: 'listening', url: broker.mqttUrl });
} catch (err) {
  send({ t: 'failed', message: (err as Error).message });
  process.exit(1);
}

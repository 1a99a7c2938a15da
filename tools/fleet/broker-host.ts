/** Entry point of the embedded broker's process (forked by broker-process.ts): answers `memory` and `stop`. */
import { createPrivateKey } from 'node:crypto';
import { startBroker } from '../../broker/broker.ts';
import type { FromHost } from './broker-process.ts';
import { sampleProcess } from './sample.ts';
import { brokerFilesNeeded, ensureOpenFiles } from './open-files.ts';

const send = (m: FromHost) => process.send?.(m);

try {
  // One socket per device: checked (and raised, as root) before anything connects.
  const devices = Number(process.env.PAYSPEAKER_FLEET_DEVICES ?? 0);
  ensureOpenFiles(brokerFilesNeeded(devices), `the embedded broker for ${devices} devices`);
  // The run's backend key (broker-process.ts): time answers signed with it, as the speakers expect.
  const keyPem = process.env.PAYSPEAKER_FLEET_TIME_KEY;
  const broker = await startBroker({
    port: 0,
    wsPort: null,
    ...(keyPem ? { timeKey: createPrivateKey(keyPem) } : {}),
  });
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

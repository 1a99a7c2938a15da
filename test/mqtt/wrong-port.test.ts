/** A tool pointed at the broker's HTTP API port hears which port it dialled, not a parse error. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { BrokerWrongPortError, connectOnce } from '../../src/mqtt/connect.ts';
import { tempDataDir } from '../broker/helpers.ts';

let broker: RunningBroker;
beforeAll(async () => {
  broker = await startBroker({
    host: '127.0.0.1',
    port: 0,
    security: { mode: 'insecure' },
    service: { dataDir: tempDataDir(), httpPort: 0 },
  });
});
afterAll(async () => {
  await broker?.close();
});

describe('connectOnce on the HTTP API port', () => {
  it('says the port answers HTTP and where MQTT is', async () => {
    const url = broker.service!.httpUrl!.replace(/^http:/, 'mqtt:');
    const err = await connectOnce(url, { clientId: 'wrong-port' }, 5_000).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(BrokerWrongPortError);
    expect(err!.message).toBe(
      `${url}: this port answers HTTP, not MQTT: it is the broker's HTTP API port; MQTT is on --port (1883 by default)`,
    );
  });
});

/** Anonymous access exists only when asked for, and says so once. */
import { describe, expect, it } from 'vitest';
import { startBroker } from '../../broker/broker.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';
import { CliProcess } from '../support/cli.ts';
import { topics } from '../../src/protocol/index.ts';
import { end, tempDataDir, tryConnect } from './helpers.ts';

describe('insecure mode', () => {
  it('lets anonymous clients publish anywhere, with one warning at start', async () => {
    const { log, lines } = captureLog();
    const broker = await startBroker({ port: 0, wsPort: null, log, security: { mode: 'insecure' } });
    const anon = await tryConnect(broker.mqttUrl, { clientId: 'anyone' });
    expect(anon.code).toBe(0);
    await anon.client!.publishAsync(topics.notify('SPK-0001'), '{}', { qos: 1 });
    expect(anon.client!.connected).toBe(true);
    const warnings = lines.filter((l) => l.level >= LEVEL.warn);
    expect(warnings.map((l) => l.msg)).toEqual([expect.stringMatching(/^INSECURE: anonymous clients may connect/)]);
    expect(broker.registry).toBeNull();
    await end(anon.client);
    await broker.close();
  });

  it('is what startBroker() without a security option still does, silently (until the tests move to secure)', async () => {
    const { log, lines } = captureLog();
    const broker = await startBroker({ port: 0, wsPort: null, log });
    const anon = await tryConnect(broker.mqttUrl, { clientId: 'anyone' });
    expect(anon.code).toBe(0);
    expect(lines.filter((l) => l.level >= LEVEL.warn)).toEqual([]);
    await end(anon.client);
    await broker.close();
  });

  it('is off for the broker command unless --insecure is given', async () => {
    const dataDir = tempDataDir();
    const secure = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--json', '--data', dataDir]);
    const s = await secure.waitForEvent<{ mqtt: string; security: string; registry: string }>(
      (e) => e.event === 'listening',
    );
    expect(s).toMatchObject({ security: 'secure', registry: `${dataDir}/broker/registry.sqlite` });
    expect((await tryConnect(s.mqtt, { clientId: 'anyone' })).code).toBe(4);
    expect(await secure.stop()).toBe(0);

    const open = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--json', '--insecure', '--data', dataDir]);
    const o = await open.waitForEvent<{ mqtt: string; security: string }>((e) => e.event === 'listening');
    expect(o.security).toBe('insecure');
    const anon = await tryConnect(o.mqtt, { clientId: 'anyone' });
    expect(anon.code).toBe(0);
    await end(anon.client);
    expect(await open.stop()).toBe(0);
    expect(open.stderr.match(/INSECURE/g)).toHaveLength(1);
  });
});

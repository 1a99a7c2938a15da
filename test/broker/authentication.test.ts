/** Authentication against a real secure broker: who gets in, who is refused, with which CONNACK code and log line. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IClientOptions } from 'mqtt';
import type { RunningBroker } from '../../broker/broker.ts';
import { captureLog, LEVEL, type LogLine } from '../fixtures/capture-log.ts';
import { topics } from '../../src/protocol/index.ts';
import {
  connectBackend,
  connectDevice,
  connected,
  end,
  provision,
  startSecureBroker,
  tempDataDir,
  tryConnect,
} from './helpers.ts';

describe('authentication', () => {
  const dataDir = tempDataDir();
  const { log, lines } = captureLog();
  let broker: RunningBroker;
  let secret: string;

  beforeAll(async () => {
    secret = provision(dataDir, 'SPK-0001').password;
    provision(dataDir, 'SPK-0009');
    broker = await startSecureBroker(dataDir, log);
  });
  afterAll(() => broker.close());

  /** The warnings logged while `action` ran. */
  async function warningsDuring(action: () => Promise<unknown>): Promise<LogLine[]> {
    const before = lines.length;
    await action();
    await new Promise((r) => setTimeout(r, 50));
    return lines.slice(before).filter((l) => l.level >= LEVEL.warn);
  }

  it('lets a provisioned device in with its secret, and records it online', async () => {
    const attempt = await connectDevice(broker.mqttUrl, 'SPK-0001', secret);
    expect(attempt.code).toBe(0);
    expect(broker.registry!.find('SPK-0001')).toMatchObject({ online: true });
    const seenAt = broker.registry!.find('SPK-0001')!.lastSeenAt!;
    expect(Date.now() - seenAt).toBeLessThan(5000);
    await end(attempt.client);
    await new Promise((r) => setTimeout(r, 100));
    expect(broker.registry!.find('SPK-0001')).toMatchObject({ online: false });
  });

  const refusals: [string, (secret: string) => IClientOptions, number, RegExp][] = [
    [
      'an unknown device',
      () => ({ username: 'SPK-4040', password: 'whatever', clientId: 'payspeaker-SPK-4040' }),
      4,
      /refused "SPK-4040" from 127\.0\.0\.1: unknown id/,
    ],
    [
      'a wrong secret',
      () => ({ username: 'SPK-0001', password: 'not-the-secret', clientId: 'payspeaker-SPK-0001' }),
      4,
      /refused "SPK-0001" from 127\.0\.0\.1: wrong secret/,
    ],
    [
      "another device's secret",
      (s) => ({ username: 'SPK-0009', password: s, clientId: 'payspeaker-SPK-0009' }),
      4,
      /refused "SPK-0009" .*: wrong secret/,
    ],
    [
      'no credentials at all',
      () => ({ clientId: 'payspeaker-SPK-0001' }),
      4,
      /refused \(no username\) .*anonymous clients are refused/,
    ],
  ];
  it.each(refusals)('refuses %s with CONNACK %s and one log line', async (_what, opts, code, message) => {
    let refused = -1;
    const warnings = await warningsDuring(
      async () => (refused = (await tryConnect(broker.mqttUrl, opts(secret))).code),
    );
    expect(refused).toBe(code);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(message);
    expect(warnings[0]).toMatchObject({ connack: code, address: '127.0.0.1' });
    expect(JSON.stringify(warnings[0])).not.toContain(secret);
  });

  it("refuses a device that uses another client id than payspeaker-<id> (it could take over another device's session)", async () => {
    let code = -1;
    const warnings = await warningsDuring(
      async () =>
        (code = (await connectDevice(broker.mqttUrl, 'SPK-0001', secret, { clientId: 'payspeaker-SPK-0009' })).code),
    );
    expect(code).toBe(2);
    expect(warnings.map((w) => w.msg)).toEqual([
      expect.stringMatching(/client id must be payspeaker-SPK-0001, got "payspeaker-SPK-0009"/),
    ]);
  });

  it("refuses a device whose last will would publish on another device's state", async () => {
    const will = {
      topic: topics.state('SPK-0009'),
      payload: Buffer.from('{"online":false}'),
      qos: 1 as const,
      retain: true,
    };
    let code = -1;
    const warnings = await warningsDuring(
      async () => (code = (await connectDevice(broker.mqttUrl, 'SPK-0001', secret, { will })).code),
    );
    expect(code).toBe(5);
    expect(warnings[0]!.msg).toMatch(/last will must be its own state topic/);
  });

  it('lets the backend in with the credentials from backend.json, but not under a device client id', async () => {
    const backend = await connectBackend(broker.mqttUrl, dataDir);
    await end(backend);
    await expect(connectBackend(broker.mqttUrl, dataDir, 'payspeaker-SPK-0001')).rejects.toThrow(/CONNACK 2/);
  });
});

describe('revoked devices', () => {
  it('are refused with CONNACK 5 (not authorized) once they prove their secret', async () => {
    const dataDir = tempDataDir();
    const { log, lines } = captureLog();
    const { password } = provision(dataDir, 'SPK-0001');
    const broker = await startSecureBroker(dataDir, log);
    broker.registry!.revoke('SPK-0001', Date.now());
    expect((await connectDevice(broker.mqttUrl, 'SPK-0001', password)).code).toBe(5);
    // Without the secret a revoked id looks like any wrong secret: revocation is not disclosed.
    expect((await connectDevice(broker.mqttUrl, 'SPK-0001', 'guess')).code).toBe(4);
    const refusals = lines.filter((l) => l.level === LEVEL.warn && /^refused/.test(l.msg));
    expect(refusals.map((l) => l.msg)).toEqual([
      expect.stringMatching(/refused "SPK-0001" from 127\.0\.0\.1: revoked at /),
      expect.stringMatching(/wrong secret/),
    ]);
    await broker.close();
  });
});

describe('a registry that fails', () => {
  it('makes the broker refuse everyone with CONNACK 3 (server unavailable) instead of crashing', async () => {
    const dataDir = tempDataDir();
    const { log, lines } = captureLog();
    const { password } = provision(dataDir, 'SPK-0001');
    const broker = await startSecureBroker(dataDir, log);
    broker.registry!.close(); // as good as a vanished disk: every query now throws
    expect((await connectDevice(broker.mqttUrl, 'SPK-0001', password)).code).toBe(3);
    expect(lines.some((l) => l.level === LEVEL.error && /cannot read the device registry/.test(l.msg))).toBe(true);
    await broker.close();
  });
});

describe('a broker over an existing registry', () => {
  it('starts with every device offline, whatever a crashed run left behind', async () => {
    const dataDir = tempDataDir();
    provision(dataDir, 'SPK-0001');
    const first = await startSecureBroker(dataDir);
    first.registry!.setPresence('SPK-0001', true, 1);
    await first.close();
    const second = await startSecureBroker(dataDir);
    expect(second.registry!.find('SPK-0001')!.online).toBe(false);
    await second.close();
  });

  it('closes cleanly while devices are connected, and they end up offline', async () => {
    const dataDir = tempDataDir();
    const { password } = provision(dataDir, 'SPK-0001');
    const broker = await startSecureBroker(dataDir);
    const device = await connected(broker.mqttUrl, 'SPK-0001', password);
    await broker.close();
    await end(device);
    const again = await startSecureBroker(dataDir);
    expect(again.registry!.find('SPK-0001')).toMatchObject({ online: false });
    expect(again.registry!.find('SPK-0001')!.lastSeenAt).not.toBeNull();
    await again.close();
  });
});

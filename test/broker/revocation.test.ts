/**
 * Revocation across processes: `revoke` writes the registry from another process and the
 * running broker drops the device within about a second, then refuses it (CONNACK 5).
 */
import { describe, expect, it } from 'vitest';
import { openRegistry } from '../../broker/registry.ts';
import { captureLog, LEVEL } from '../fixtures/capture-log.ts';
import { CliProcess } from '../support/cli.ts';
import { closed, connectDevice, connected, end, provision, startSecureBroker, tempDataDir } from './helpers.ts';

/** Resolves with how long `client` took to be dropped after `start`, or rejects after `limitMs`. */
async function droppedWithin(client: Parameters<typeof closed>[0], start: number, limitMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`still connected after ${limitMs} ms`)), limitMs)),
  );
  await Promise.race([closed(client), limit]).finally(() => clearTimeout(timer));
  return Date.now() - start;
}

describe('revocation', () => {
  it('drops a connected device within ~2 s when another connection revokes it, and logs why once', async () => {
    const dataDir = tempDataDir();
    const { log, lines } = captureLog();
    const { password } = provision(dataDir, 'SPK-0001');
    const other = provision(dataDir, 'SPK-0002');
    const broker = await startSecureBroker(dataDir, log);
    const device = await connected(broker.mqttUrl, 'SPK-0001', password);
    const bystander = await connected(broker.mqttUrl, 'SPK-0002', other.password);

    const cli = openRegistry(dataDir); // what `payspeaker revoke` does, through its own connection
    const start = Date.now();
    cli.revoke('SPK-0001', start);
    cli.close();
    expect(await droppedWithin(device, start, 2500)).toBeLessThan(2500);
    await new Promise((r) => setTimeout(r, 100));

    expect(bystander.connected).toBe(true);
    expect(broker.registry!.find('SPK-0001')!.online).toBe(false);
    const closing = lines.filter((l) => l.level === LEVEL.warn && /closing device SPK-0001/.test(l.msg));
    expect(closing.map((l) => l.msg)).toEqual(["closing device SPK-0001's connection: revoked"]);
    expect((await connectDevice(broker.mqttUrl, 'SPK-0001', password)).code).toBe(5);
    await Promise.all([end(device), end(bystander)]);
    await broker.close();
  });

  it('drops a device whose secret was rotated (provision --force); the new secret gets in', async () => {
    const dataDir = tempDataDir();
    const old = provision(dataDir, 'SPK-0001');
    const broker = await startSecureBroker(dataDir, undefined, 100);
    const device = await connected(broker.mqttUrl, 'SPK-0001', old.password);
    const start = Date.now();
    const fresh = provision(dataDir, 'SPK-0001', true);
    await droppedWithin(device, start, 2000);
    expect((await connectDevice(broker.mqttUrl, 'SPK-0001', old.password)).code).toBe(4);
    const again = await connectDevice(broker.mqttUrl, 'SPK-0001', fresh.password);
    expect(again.code).toBe(0);
    await Promise.all([end(device), end(again.client)]);
    await broker.close();
  });

  it('works against the broker command running in another process', async () => {
    const dataDir = tempDataDir();
    const { password } = provision(dataDir, 'SPK-0001');
    const broker = new CliProcess(['broker', '--port', '0', '--no-ws-port', '--json', '--data', dataDir]);
    const { mqtt, security } = await broker.waitForEvent<{ mqtt: string; security: string }>(
      (e) => e.event === 'listening',
    );
    expect(security).toBe('secure');
    const device = await connected(mqtt, 'SPK-0001', password);

    const registry = openRegistry(dataDir);
    expect(registry.find('SPK-0001')!.online).toBe(true); // the broker process wrote it
    const start = Date.now();
    registry.revoke('SPK-0001', start);
    registry.close();
    expect(await droppedWithin(device, start, 2500)).toBeLessThan(2500);
    expect((await connectDevice(mqtt, 'SPK-0001', password)).code).toBe(5);
    expect(await broker.stop()).toBe(0);
    expect(broker.stderr).toMatch(/closing device SPK-0001's connection: revoked/);
    expect(broker.stderr).toMatch(/refused \\"SPK-0001\\" from 127\.0\.0\.1: revoked at/); // JSON log lines: quotes escaped
    await end(device);
  });
});

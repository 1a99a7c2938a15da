/** The registry and provisioning: identities, secrets that are never stored, the backend's own identity. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openRegistry } from '../../broker/registry.ts';
import {
  ensureBackendCredentials,
  provisionDevice,
  readBackendCredentials,
  verifySecret,
} from '../../broker/credentials.ts';
import { backendCredentialsFile, brokerDir, registryFile, writeSecretFile } from '../../broker/data-dir.ts';
import { tempDataDir } from './helpers.ts';

describe('device registry', () => {
  it('provisions a device with a 256-bit random secret and stores only a salted hash', () => {
    const dataDir = tempDataDir();
    const registry = openRegistry(dataDir);
    const a = provisionDevice(registry, 'SPK-0001', { now: 1000 });
    const b = provisionDevice(registry, 'SPK-0002');
    expect(a).toMatchObject({ id: 'SPK-0001', username: 'SPK-0001', rotated: false });
    expect(Buffer.from(a.password, 'base64url')).toHaveLength(32);
    expect(a.password).not.toBe(b.password);

    const stored = registry.find('SPK-0001')!;
    expect(stored).toMatchObject({
      role: 'device',
      status: 'active',
      createdAt: 1000,
      online: false,
      lastSeenAt: null,
    });
    expect(stored.salt).toHaveLength(16);
    expect(verifySecret(a.password, stored)).toBe(true);
    expect(verifySecret(b.password, stored)).toBe(false);
    expect(verifySecret('', stored)).toBe(false);
    registry.close();

    // The secret appears nowhere in the registry's bytes, in any encoding a leak could take.
    const bytes = Buffer.concat(
      fs
        .readdirSync(brokerDir(dataDir))
        .filter((f) => f.startsWith('registry.sqlite'))
        .map((f) => fs.readFileSync(`${brokerDir(dataDir)}/${f}`)),
    );
    for (const secret of [a.password, b.password]) {
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      expect(bytes.includes(Buffer.from(secret, 'base64url'))).toBe(false);
    }
  });

  it('keeps its files private to the user', () => {
    const dataDir = tempDataDir();
    openRegistry(dataDir).close();
    expect(fs.statSync(brokerDir(dataDir)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(registryFile(dataDir)).mode & 0o777).toBe(0o600);
  });

  it('refuses to provision an id twice unless forced, and forcing rotates the secret and reactivates', () => {
    const registry = openRegistry(tempDataDir());
    const first = provisionDevice(registry, 'SPK-0001');
    expect(() => provisionDevice(registry, 'SPK-0001')).toThrow(
      /SPK-0001 is already provisioned \(active, provisioned .*\): pass --force/,
    );
    registry.revoke('SPK-0001', 5);
    const second = provisionDevice(registry, 'SPK-0001', { force: true });
    expect(second.rotated).toBe(true);
    const stored = registry.find('SPK-0001')!;
    expect(stored.status).toBe('active');
    expect(stored.revokedAt).toBeNull();
    expect(verifySecret(first.password, stored)).toBe(false);
    expect(verifySecret(second.password, stored)).toBe(true);
    registry.close();
  });

  it('lets only one of two racing provisionings of an id win', () => {
    const dataDir = tempDataDir();
    const [a, b] = [openRegistry(dataDir), openRegistry(dataDir)];
    const salt = Buffer.alloc(16);
    a.save({ id: 'SPK-0001', role: 'device', salt, secretHash: Buffer.alloc(32), now: 1, replace: false });
    expect(() =>
      b.save({ id: 'SPK-0001', role: 'device', salt, secretHash: Buffer.alloc(32, 1), now: 2, replace: false }),
    ).toThrow(/SPK-0001 is already in the registry/);
    expect(b.find('SPK-0001')!.createdAt).toBe(1);
    a.close();
    b.close();
  });

  it('refuses ids that would break topics, and the reserved backend id', () => {
    const registry = openRegistry(tempDataDir());
    expect(() => provisionDevice(registry, 'SPK/#')).toThrow(/invalid device id "SPK\/#"/);
    expect(() => provisionDevice(registry, '')).toThrow(/invalid device id ""/);
    expect(() => provisionDevice(registry, 'backend')).toThrow(/reserved for the backend/);
    expect(() => provisionDevice(registry, 'Backend')).toThrow(/reserved for the backend/);
    registry.close();
  });

  it('revokes once, keeping the first revocation time; lists devices without their hashes', () => {
    const registry = openRegistry(tempDataDir());
    provisionDevice(registry, 'SPK-0002');
    provisionDevice(registry, 'SPK-0001');
    expect(registry.revoke('SPK-0001', 100)).toBe(true);
    expect(registry.revoke('SPK-0001', 200)).toBe(true);
    expect(registry.revoke('SPK-9999', 200)).toBe(false);
    const list = registry.list();
    expect(list.map((d) => [d.id, d.status, d.revokedAt])).toEqual([
      ['SPK-0001', 'revoked', 100],
      ['SPK-0002', 'active', null],
    ]);
    expect(Object.keys(list[0]!)).not.toContain('secretHash');
    expect(Object.keys(list[0]!)).not.toContain('salt');
    registry.close();
  });

  it('notices commits made by another connection (another process), not its own', () => {
    const dataDir = tempDataDir();
    const broker = openRegistry(dataDir, { forBroker: true });
    const cli = openRegistry(dataDir);
    expect(broker.changedElsewhere()).toBe(false);
    provisionDevice(broker, 'SPK-0001');
    broker.setPresence('SPK-0001', true, 1);
    expect(broker.changedElsewhere()).toBe(false);
    cli.revoke('SPK-0001', 2);
    expect(broker.changedElsewhere()).toBe(true);
    expect(broker.changedElsewhere()).toBe(false);
    expect(broker.find('SPK-0001')!.status).toBe('revoked');
    broker.close();
    cli.close();
  });
});

describe('backend credentials', () => {
  it('are created once in backend.json (0600), registered by hash, and kept across restarts', () => {
    const dataDir = tempDataDir();
    const registry = openRegistry(dataDir);
    const first = ensureBackendCredentials(dataDir, registry);
    expect(first.username).toBe('backend');
    expect(fs.statSync(backendCredentialsFile(dataDir)).mode & 0o777).toBe(0o600);
    expect(readBackendCredentials(dataDir)).toEqual(first);
    expect(ensureBackendCredentials(dataDir, registry)).toEqual(first);
    expect(registry.find('backend')).toMatchObject({ role: 'backend', status: 'active' });
    expect(registry.list('device')).toEqual([]);
    registry.close();

    // A lost registry does not lock the backend out: backend.json is the source of truth.
    for (const f of fs.readdirSync(brokerDir(dataDir)).filter((f) => f.startsWith('registry.sqlite')))
      fs.rmSync(`${brokerDir(dataDir)}/${f}`);
    const fresh = openRegistry(dataDir);
    expect(ensureBackendCredentials(dataDir, fresh)).toEqual(first);
    expect(verifySecret(first.password, fresh.find('backend')!)).toBe(true);
    fresh.close();
  });

  it('are made once even when two brokers start at the same moment', () => {
    const dataDir = tempDataDir();
    openRegistry(dataDir).close();
    const file = backendCredentialsFile(dataDir);
    expect(writeSecretFile(file, '{"username":"backend","password":"first"}', { exclusive: true })).toBe(true);
    expect(writeSecretFile(file, '{"username":"backend","password":"second"}', { exclusive: true })).toBe(false);
    expect(readBackendCredentials(dataDir)!.password).toBe('first');
    expect(fs.readdirSync(brokerDir(dataDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('says what to do when backend.json is damaged', () => {
    const dataDir = tempDataDir();
    openRegistry(dataDir).close();
    fs.writeFileSync(backendCredentialsFile(dataDir), '{"username": 1');
    expect(() => readBackendCredentials(dataDir)).toThrow(
      /backend\.json is not readable JSON .*delete it and restart the broker/,
    );
    fs.writeFileSync(backendCredentialsFile(dataDir), '{"username": "backend"}');
    expect(() => readBackendCredentials(dataDir)).toThrow(/lacks "username" and "password"/);
  });
});

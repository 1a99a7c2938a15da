/**
 * `fleet --source-addresses`: the devices' sockets are bound to the addresses asked for, for
 * speakers (the firmware's transport hook, device/connection.ts) and raw clients alike. The
 * broker runs here, so the test sees each connection's remote address as aedes does. On Linux
 * all of 127.0.0.0/8 is loopback: 127.0.0.2 and 127.0.0.3 need no setup.
 */
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../broker/broker.ts';
import { FLEET_DEFAULTS, runFleet, type FleetOptions } from '../../tools/fleet/run.ts';
import {
  chooseSourceAddresses,
  CONNECTIONS_PER_SOURCE_ADDRESS,
  parseSourceAddresses,
  SourceAddressError,
} from '../../tools/fleet/source-addresses.ts';

const linux = process.platform === 'linux';

describe('choosing and checking source addresses', () => {
  it('refuses what is not a local IP address, naming it', () => {
    expect(() => parseSourceAddresses('nonsense')).toThrow(/"nonsense" is not an IP address/);
    expect(() => parseSourceAddresses(',')).toThrow(SourceAddressError);
    expect(() => parseSourceAddresses('192.0.2.254,127.0.0.2')).toThrow(
      /192\.0\.2\.254 is not an address of this machine/,
    );
    expect(() => parseSourceAddresses('127.0.0.2,::1')).toThrow(/mixes IPv4 and IPv6/);
  });

  it.runIf(linux)('takes any of 127/8 on Linux, and drops repeats', () => {
    expect(parseSourceAddresses('127.0.0.2, 127.0.0.3,127.0.0.2')).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it('a loopback source cannot reach a broker elsewhere', () => {
    expect(() => chooseSourceAddresses('mqtt://192.0.2.10:1883', 10, ['127.0.0.2'])).toThrow(/loopback address/);
    expect(() => chooseSourceAddresses('mqtt://[::1]:1883', 10, ['127.0.0.2'])).toThrow(/IPv4 but the broker/);
  });

  it.runIf(linux)('by default, one loopback address per 10,000 devices, and none for a fleet one address holds', () => {
    expect(chooseSourceAddresses('mqtt://127.0.0.1:1883', CONNECTIONS_PER_SOURCE_ADDRESS, null)).toEqual([]);
    expect(chooseSourceAddresses('mqtt://127.0.0.1:1883', 30_000, null)).toEqual([
      '127.0.0.1',
      '127.0.0.2',
      '127.0.0.3',
    ]);
    expect(chooseSourceAddresses('mqtt://localhost:1883', 100_000, null)).toHaveLength(10);
    // Not on loopback: the system's routing decides, nothing is guessed.
    expect(chooseSourceAddresses('mqtt://192.0.2.10:1883', 100_000, null)).toEqual([]);
  });
});

describe.runIf(linux)('fleet --source-addresses 127.0.0.2,127.0.0.3', () => {
  let broker: RunningBroker;
  /** Client id → the address the broker saw it connect from. */
  const seen = new Map<string, string>();

  beforeAll(async () => {
    broker = await startBroker({ host: '127.0.0.1', port: 0, wsPort: null });
    broker.aedes.on('client', (c) => seen.set(c.id, (c.conn as net.Socket).remoteAddress ?? '?'));
  });
  afterAll(() => broker?.close());

  const run = (patch: Partial<FleetOptions>) =>
    runFleet({
      ...FLEET_DEFAULTS,
      devices: 20,
      loads: [{ rate: 20, durationMs: 500, window: 1 }],
      brokerUrl: broker.mqttUrl,
      workers: 2,
      drainMs: 10_000,
      warmupMs: 0,
      sourceAddresses: ['127.0.0.2', '127.0.0.3'],
      ...patch,
    });
  const addressesOf = (prefix: string) =>
    new Set([...seen].filter(([id]) => id.startsWith(prefix)).map(([, address]) => address));

  it('speakers connect from both addresses, every payment heard once', async () => {
    const r = await run({ prefix: 'SRCSPK' });
    expect(r.loads[0]).toMatchObject({ sent: 10, heard: 10, lost: 0, duplicates: 0 });
    expect([...seen.keys()].filter((id) => id.startsWith('payspeaker-SRCSPK-'))).toHaveLength(20);
    expect(addressesOf('payspeaker-SRCSPK-')).toEqual(new Set(['127.0.0.2', '127.0.0.3']));
  }, 60_000);

  it('raw clients too', async () => {
    const r = await run({ prefix: 'SRCRAW', mode: 'raw' });
    expect(r.loads[0]).toMatchObject({ sent: 10, heard: 10, lost: 0, duplicates: 0 });
    expect(addressesOf('payspeaker-raw-SRCRAW-')).toEqual(new Set(['127.0.0.2', '127.0.0.3']));
  }, 60_000);

  it('without the option (and a small fleet) the system chooses: 127.0.0.1', async () => {
    await run({ prefix: 'SRCDEF', mode: 'raw', sourceAddresses: null });
    expect(addressesOf('payspeaker-raw-SRCDEF-')).toEqual(new Set(['127.0.0.1']));
  }, 60_000);
});

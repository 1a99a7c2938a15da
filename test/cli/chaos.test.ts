/** `payspeaker chaos` as a user runs it: help, refused values, and a proxy that forwards MQTT until SIGTERM. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../broker/broker.ts';
import { connectOnce, endClient } from '../../src/mqtt/connect.ts';
import { startTestBroker } from '../support/broker.ts';
import { CliProcess, runCli } from '../support/cli.ts';
import { chaosCommand } from '../../tools/cli/commands/chaos.ts';
import type { CliContext } from '../../tools/cli/context.ts';
import { silentLogger } from '../../src/log.ts';

let broker: RunningBroker;
let dir: string;

beforeAll(async () => {
  broker = await startTestBroker();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payspeaker-chaos-cli-'));
});

afterAll(async () => {
  await broker.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The command's own context, without output: the refusals are thrown before it prints anything. */
function quietContext(): CliContext {
  return { settings: {}, configFile: null, print: () => {}, logger: () => silentLogger };
}

const target = () => `127.0.0.1:${new URL(broker.mqttUrl).port}`;

describe('payspeaker chaos', () => {
  it('explains itself with --help, and exits 2 on a bad value with the flag, the value and what to write', async () => {
    const [help, address] = await Promise.all([runCli(['chaos', '--help']), runCli(['chaos', '--target', 'broker'])]);
    expect(help.code).toBe(0);
    for (const flag of [
      '--target',
      '--listen',
      '--seed',
      '--mean-fault-after',
      '--faults',
      '--blackhole-for',
      '--delay',
      '--jitter',
      '--schedule',
      '--json',
    ])
      expect(help.stdout).toContain(flag);
    expect(address.code).toBe(2);
    expect(address.stderr).toContain(
      '--target must be HOST:PORT with a port from 1 to 65535, like 127.0.0.1:1883, got "broker"',
    );
  });

  it('refuses values that make no sense before it listens (in-process, as main() sees them)', async () => {
    const badStep = path.join(dir, 'bad-step.json');
    fs.writeFileSync(badStep, JSON.stringify([{ atMs: 100, fault: 'explode' }]));
    const refusals: [string[], string][] = [
      [
        ['--mean-fault-after', '1s', '--faults', 'reset=lots'],
        '--faults "reset=lots": the weight in "reset=lots" must be a number of at least 0, like reset=2',
      ],
      [
        ['--mean-fault-after', '1s', '--faults', 'reboot=1'],
        '--faults "reboot=1": "reboot" is not a random fault: use reset, drop, blackhole, like reset=3,drop=1,blackhole=1',
      ],
      [
        ['--blackhole-for', '3s'],
        '--blackhole-for 3s shapes the random faults, which are off: add --mean-fault-after 5s to turn them on',
      ],
      [['--mean-fault-after', 'soon'], '--mean-fault-after "soon" is not a duration: write it like 10s, 500ms or 2m'],
      [
        ['--schedule', badStep],
        `--schedule ${badStep}: step 1: "fault" must be one of reset, drop, blackhole, delay, refuse, got "explode"`,
      ],
      [
        ['--schedule', path.join(dir, 'missing.json')],
        `--schedule ${path.join(dir, 'missing.json')}: cannot read it (ENOENT): check the path`,
      ],
    ];
    for (const [args, message] of refusals) {
      const run = chaosCommand(quietContext())
        .exitOverride()
        .parseAsync(['--target', target(), '--listen', '127.0.0.1:0', ...args], { from: 'user' });
      await expect(run, args.join(' ')).rejects.toMatchObject({ name: 'CliError', exitCode: 2, message });
    }
  });

  it('with --json, reports the end of a fault as well as its start', async () => {
    const schedule = path.join(dir, 'blackhole.json');
    fs.writeFileSync(schedule, JSON.stringify([{ atMs: 0, fault: 'blackhole', durationMs: 300 }]));
    const json = new CliProcess([
      'chaos',
      '--target',
      target(),
      '--listen',
      '127.0.0.1:0',
      '--schedule',
      schedule,
      '--json',
    ]);
    try {
      expect(await json.waitForEvent((e) => e.event === 'fault')).toMatchObject({ kind: 'blackhole', scope: 'all' });
      const end = await json.waitForEvent<{ kind: string; lastedMs: number; how: string }>(
        (e) => e.event === 'fault-end',
      );
      expect(end.kind).toBe('blackhole');
      expect(end.lastedMs).toBeGreaterThanOrEqual(300);
      expect(await json.stop('SIGTERM')).toBe(0);
    } finally {
      await json.stop();
    }
  });

  it('forwards an MQTT connection, reports faults as JSON lines, and prints totals on SIGTERM', async () => {
    const schedule = path.join(dir, 'schedule.json');
    fs.writeFileSync(schedule, JSON.stringify([{ atMs: 0, fault: 'delay', delayMs: 5 }]));
    const json = new CliProcess([
      'chaos',
      '--target',
      target(),
      '--listen',
      '127.0.0.1:0',
      '--seed',
      '5',
      '--schedule',
      schedule,
      '--json',
    ]);
    const human = new CliProcess(['chaos', '--target', target(), '--listen', ':0']);
    try {
      const listening = await json.waitForEvent<{ url: string; seed: number }>((e) => e.event === 'listening');
      expect(listening.seed).toBe(5);
      expect(await json.waitForEvent((e) => e.event === 'fault')).toMatchObject({
        kind: 'delay',
        cause: 'schedule',
        delayMs: 5,
        scope: 'all',
      });

      const client = await connectOnce(listening.url, { clientId: 'chaos-cli' });
      await client.subscribeAsync('chaos/cli', { qos: 1 });
      const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
      await client.publishAsync('chaos/cli', 'through the proxy', { qos: 1 });
      expect(await got).toBe('through the proxy');
      await endClient(client);

      expect(await json.stop('SIGTERM')).toBe(0);
      const stopped = await json.waitForEvent<{
        connections: { accepted: number };
        bytes: { toTarget: number; toClient: number };
        faults: { delay: number };
      }>((e) => e.event === 'stopped');
      expect(stopped.connections.accepted).toBe(1);
      expect(stopped.bytes.toTarget).toBeGreaterThan(0);
      expect(stopped.bytes.toClient).toBeGreaterThan(0);
      expect(stopped.faults.delay).toBe(1);

      expect(await human.waitForLine((l) => l.startsWith('fault proxy listening'))).toMatch(
        /^fault proxy listening on 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ \(seed \d+; no faults planned\); point devices at mqtt:\/\/127\.0\.0\.1:\d+/,
      );
      expect(await human.stop('SIGINT')).toBe(0);
      expect(human.lines.at(-1)).toMatch(
        /^fault proxy stopped: 0 connections, 0 bytes to the target, 0 bytes to clients; faults: none \(seed \d+\)$/,
      );
    } finally {
      await Promise.all([json.stop('SIGKILL'), human.stop('SIGKILL')]);
    }
  });
});

/**
 * `payspeaker chaos`: a TCP fault proxy between speakers and the broker, until SIGINT/SIGTERM.
 * Point devices at the proxy instead of the broker, and it resets, drops, black-holes and
 * delays their connections at random (seeded), on a schedule, or both. See docs/CHAOS.md.
 */
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  startFaultProxy,
  type FaultEnd,
  type FaultEvent,
  type FaultProxyOptions,
  type ProxyStats,
} from '../../chaos/proxy.ts';
import { parseFaultWeights, type RandomFaults } from '../../chaos/faults.ts';
import { MAX_SEED } from '../../chaos/random.ts';
import { parseSchedule, ScheduleError, type ScheduleStep } from '../../chaos/schedule.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { parseDuration } from '../duration.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { untilShutdown } from '../signals.ts';
import type { LogLevel } from '../../../src/log.ts';

interface Address {
  host: string;
  port: number;
}

interface ChaosFlags {
  target: Address;
  listen: Address;
  seed?: number;
  meanFaultAfter?: string;
  faults?: string;
  blackholeFor?: string;
  delay?: string;
  jitter?: string;
  schedule?: string;
  json?: boolean;
  logLevel: LogLevel;
}

export function chaosCommand(ctx: CliContext): Command {
  return new Command('chaos')
    .description(
      'a TCP fault proxy between speakers and the broker: resets, drops, blackholes and delays connections, at random (seeded) or on a schedule',
    )
    .requiredOption(
      '--target <host:port>',
      "where connections go: the broker's MQTT port, like 127.0.0.1:1883",
      parseAddress('--target', 1),
    )
    .addOption(
      new Option('--listen <host:port>', 'where devices connect instead (port 0 = any free port)')
        .argParser(parseAddress('--listen', 0))
        .default({ host: '127.0.0.1', port: 1884 }, '127.0.0.1:1884'),
    )
    .option(
      '--seed <n>',
      'seeds every random choice: the same seed replays the same faults (default: a fresh one, printed)',
      parseSeed,
    )
    .option(
      '--mean-fault-after <duration>',
      'random mode: each connection gets a fault after a random wait with this mean, like 5s',
    )
    .option('--faults <mix>', 'random mode: the kinds and their weights (default reset=1,drop=1,blackhole=1)')
    .option(
      '--blackhole-for <duration>',
      'random mode: how long a blackhole lasts (default: until the device gives up on the connection)',
    )
    .option('--delay <duration>', 'latency added to every chunk, both ways, like 20ms')
    .option('--jitter <duration>', 'up to this much more latency, drawn per chunk (byte order is kept)')
    .option(
      '--schedule <file>',
      'JSON list of timed faults: [{"atMs": 2000, "fault": "blackhole", "durationMs": 3000, "target": "all"}, …]',
    )
    .addOption(commonOptions.json())
    .addOption(commonOptions.logLevel(ctx.settings))
    .addHelpText(
      'after',
      `
Faults: reset (TCP RST: ECONNRESET), drop (clean FIN), blackhole (nothing passes either way;
only keep-alives notice), delay (latency), refuse (schedule only: new connections refused).

Examples:
  npx payspeaker chaos --target 127.0.0.1:1883 --mean-fault-after 5s --seed 7
  npx payspeaker chaos --target 127.0.0.1:1883 --faults reset=3,blackhole=1 --mean-fault-after 10s --blackhole-for 90s
  npx payspeaker chaos --target 127.0.0.1:1883 --delay 200ms --jitter 50ms
  npx payspeaker chaos --target 127.0.0.1:1883 --schedule faults.json --json`,
    )
    .action(async (flags: ChaosFlags) => {
      const log = ctx.logger({ level: flags.logLevel, json: Boolean(flags.json), name: 'chaos' });
      const options = proxyOptionsFrom(flags);
      const onFault = flags.json ? (e: FaultEvent) => ctx.print(JSON.stringify({ event: 'fault', ...e })) : undefined;
      // With --json a fault's end is an event too: a script can pair each start with its end.
      const onFaultEnd = flags.json
        ? (e: FaultEnd) => ctx.print(JSON.stringify({ event: 'fault-end', ...e }))
        : undefined;
      const proxy = await startFaultProxy({ ...options, log, onFault, onFaultEnd }).catch((err: Error) => {
        throw new CliError(err.message, EXIT.NOT_STARTED);
      });
      // Listening for the signal before saying "listening": whoever reads that line may send one at once.
      const shutdown = untilShutdown();
      const listen = `${proxy.host}:${proxy.port}`;
      const target = `${flags.target.host}:${flags.target.port}`;
      if (flags.json)
        ctx.print(JSON.stringify({ event: 'listening', listen, target, url: proxy.mqttUrl, seed: proxy.seed }));
      else
        ctx.print(
          `fault proxy listening on ${listen} → ${target} (${plan(options, proxy.seed, flags)}); point devices at ${proxy.mqttUrl} (Ctrl-C to stop)`,
        );
      const signal = await shutdown;
      log.info({ signal }, 'shutting down');
      await proxy.close();
      const stats = proxy.stats();
      ctx.print(flags.json ? JSON.stringify({ event: 'stopped', signal, ...stats }) : totalsLine(stats));
    });
}

function proxyOptionsFrom(flags: ChaosFlags): Omit<FaultProxyOptions, 'log' | 'onFault' | 'onFaultEnd'> {
  const randomOnly = (flag: string, given: string | undefined) => {
    if (given !== undefined && flags.meanFaultAfter === undefined) {
      throw new CliError(
        `${flag} ${given} shapes the random faults, which are off: add --mean-fault-after 5s to turn them on`,
      );
    }
  };
  randomOnly('--faults', flags.faults);
  randomOnly('--blackhole-for', flags.blackholeFor);
  return {
    target: flags.target,
    host: flags.listen.host,
    port: flags.listen.port,
    seed: flags.seed,
    random: flags.meanFaultAfter === undefined ? undefined : randomFrom(flags),
    latency: {
      delayMs: flags.delay === undefined ? 0 : parseDuration(flags.delay, '--delay', { allowZero: true }),
      jitterMs: flags.jitter === undefined ? 0 : parseDuration(flags.jitter, '--jitter', { allowZero: true }),
    },
    schedule: flags.schedule === undefined ? undefined : loadSchedule(flags.schedule),
  };
}

function randomFrom(flags: ChaosFlags): RandomFaults {
  let weights: RandomFaults['weights'];
  try {
    weights = flags.faults === undefined ? undefined : parseFaultWeights(flags.faults);
  } catch (err) {
    throw new CliError(`--faults ${JSON.stringify(flags.faults)}: ${(err as Error).message}`);
  }
  return {
    meanMs: parseDuration(flags.meanFaultAfter!, '--mean-fault-after'),
    weights,
    blackholeMs: flags.blackholeFor === undefined ? undefined : parseDuration(flags.blackholeFor, '--blackhole-for'),
  };
}

function loadSchedule(file: string): ScheduleStep[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(
      `--schedule ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check the path`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(
      `--schedule ${file} is not valid JSON (${(err as Error).message}): it should be a list like [{"atMs": 1000, "fault": "reset"}]`,
    );
  }
  try {
    return parseSchedule(json);
  } catch (err) {
    if (err instanceof ScheduleError) throw new CliError(`--schedule ${file}: ${err.message}`);
    throw err;
  }
}

/** "127.0.0.1:1883", "[::1]:1883", "localhost:1883" or ":1884" (127.0.0.1). */
function parseAddress(flag: string, minPort: number) {
  return (text: string): Address => {
    const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text.trim());
    const port = Number(match?.[3]);
    if (!match || port < minPort || port > 65535) {
      throw new InvalidArgumentError(
        `${flag} must be HOST:PORT with a port from ${minPort} to 65535, like 127.0.0.1:1883, got ${JSON.stringify(text)}`,
      );
    }
    return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
  };
}

function parseSeed(text: string): number {
  const seed = Number(text);
  if (!/^\d+$/.test(text) || seed > MAX_SEED) {
    throw new InvalidArgumentError(
      `--seed must be a whole number from 0 to ${MAX_SEED} (the same seed replays the same faults), got ${JSON.stringify(text)}`,
    );
  }
  return seed;
}

/** What the proxy will do, for the listening line. */
function plan(options: ReturnType<typeof proxyOptionsFrom>, seed: number, flags: ChaosFlags): string {
  const parts = [`seed ${seed}`];
  const r = options.random;
  if (r)
    parts.push(
      `random faults after ~${flags.meanFaultAfter} on average: ${Object.entries(
        r.weights ?? { reset: 1, drop: 1, blackhole: 1 },
      )
        .map(([k, w]) => `${k} ${w}`)
        .join(', ')}`,
    );
  const { delayMs = 0, jitterMs = 0 } = options.latency ?? {};
  if (delayMs || jitterMs) parts.push(`delay ${delayMs} ms${jitterMs ? ` + up to ${jitterMs} ms jitter` : ''}`);
  if (options.schedule) parts.push(`schedule ${flags.schedule}: ${options.schedule.length} steps`);
  if (!r && !options.schedule) parts.push('no faults planned');
  return parts.join('; ');
}

function totalsLine(s: ProxyStats): string {
  const faults =
    Object.entries(s.faults)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const unreachable = s.connections.targetUnreachable
    ? `, ${s.connections.targetUnreachable} could not reach the target`
    : '';
  return `fault proxy stopped: ${s.connections.accepted} connections${unreachable}, ${s.bytes.toTarget} bytes to the target, ${s.bytes.toClient} bytes to clients; faults: ${faults} (seed ${s.seed})`;
}

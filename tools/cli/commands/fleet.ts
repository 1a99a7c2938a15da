/**
 * `payspeaker fleet --devices 10000 --rate 2000 --duration 60s`: many virtual speakers and a
 * payment generator, to measure what merchants hear (lost, duplicated, how late) rather than
 * what a broker delivers. The work is in tools/fleet/; this file only reads flags and prints.
 */
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LANGUAGES, type Language } from '../../../src/speech/index.ts';
import { BrokerUnreachableError } from '../../../src/mqtt/connect.ts';
import { DEFAULT_WINDOW, FLEET_DEFAULTS, runFleet, type FleetOptions } from '../../fleet/run.ts';
import { formatReport, withoutCurves } from '../../fleet/report.ts';
import { reportFile } from '../../fleet/plot.ts';
import { terminalProgress } from '../../fleet/progress.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { parseCount } from '../options.ts';

interface FleetFlags {
  devices: number;
  rate: number | 'max';
  duration: string;
  broker?: string;
  workers: number | 'auto';
  lang: Language;
  insecure?: boolean;
  raw?: boolean;
  window: number;
  drain: string;
  prefix: string;
  seed: number;
  json?: boolean;
  report?: string;
}

function parseRate(text: string): number | 'max' {
  if (text === 'max') return 'max';
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) <= 0) {
    throw new InvalidArgumentError(
      `--rate must be payments per second (e.g. 2000) or "max", got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

function parseWorkers(text: string): number | 'auto' {
  return text === 'auto' ? 'auto' : parseCount('--workers')(text);
}

export function fleetCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  return new Command('fleet')
    .description(
      'run many virtual speakers against a broker with a payment generator, and report lost, duplicated and late announcements',
    )
    .addOption(new Option('--devices <n>', 'virtual speakers').argParser(parseCount('--devices')).default(1000))
    .addOption(
      new Option('--rate <n|max>', 'payments per second, or "max": as fast as they are heard (see --window)')
        .argParser(parseRate)
        .default(100),
    )
    .option('--duration <duration>', 'how long to send payments', '10s')
    .option(
      '--broker <url>',
      'an MQTT 3.1.1 broker that lets anonymous clients in (default: start the embedded aedes broker)',
    )
    .addOption(
      new Option(
        '--workers <n|auto>',
        'worker processes for the speakers (auto: one per core, more past 8,000 speakers each)',
      )
        .argParser(parseWorkers)
        .default('auto'),
    )
    .addOption(new Option('--lang <lang>', 'announcement language').choices(LANGUAGES).default(s.lang ?? 'zh-CN'))
    .option(
      '--insecure',
      'send unsigned payments; speakers do not check signatures (default: sign with a fresh Ed25519 key the speakers are given)',
    )
    .option('--raw', 'plain MQTT clients instead of speakers: what the broker alone delivers, as a baseline')
    .addOption(
      new Option('--window <n>', 'with --rate max: payments sent and not yet heard')
        .argParser(parseCount('--window'))
        .default(DEFAULT_WINDOW),
    )
    .option(
      '--drain <duration>',
      'after the last payment, how long to wait for stragglers before counting them lost',
      '10s',
    )
    .option('--prefix <prefix>', 'device ids are PREFIX-00001, PREFIX-00002, …', FLEET_DEFAULTS.prefix)
    .addOption(
      new Option('--seed <n>', 'seed for which device gets each payment, and its amount')
        .argParser(parseCount('--seed', 0))
        .default(FLEET_DEFAULTS.seed),
    )
    .option('--report <file>', 'also write a latency plot: FILE.svg (the chart) or FILE.html (chart and figures)')
    .addOption(commonOptions.json())
    .addHelpText(
      'after',
      `
Latency is from the payment's creation to the moment the speaker has the announcement's PCM
ready to play (playback itself is skipped), with a fixed-rate schedule so a stalled generator
cannot hide a slow system (coordinated omission). Exit codes: 0 every payment heard once,
4 some were lost, 1 some were heard twice, 5 broker unreachable.

Examples:
  npx payspeaker fleet --devices 200 --rate 50 --duration 5s
  npx payspeaker fleet --devices 10000 --rate 2000 --duration 60s --report fleet.html
  npx payspeaker fleet --devices 10000 --rate max --raw --broker mqtt://127.0.0.1:1883`,
    )
    .action(async (flags: FleetFlags) => {
      const prefix = flags.prefix;
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,50}$/.test(prefix)) {
        throw new CliError(
          `--prefix ${JSON.stringify(prefix)} is not usable in device ids: use letters, digits, "-" or "_" (e.g. FLEET)`,
        );
      }
      const opts: FleetOptions = {
        ...FLEET_DEFAULTS,
        devices: flags.devices,
        loads: [{ rate: flags.rate, durationMs: parseDuration(flags.duration, '--duration'), window: flags.window }],
        brokerUrl: flags.broker ?? null,
        workers: flags.workers,
        mode: flags.raw ? 'raw' : 'speakers',
        lang: flags.lang,
        signed: !flags.insecure,
        drainMs: parseDuration(flags.drain, '--drain', { allowZero: true }),
        prefix,
        seed: flags.seed,
      };
      const progress = terminalProgress();
      let report;
      try {
        report = await runFleet(opts, (snapshot) => progress.update(snapshot));
      } catch (err) {
        if (err instanceof BrokerUnreachableError) throw new CliError(err.message, EXIT.UNREACHABLE);
        throw err;
      } finally {
        progress.end();
      }
      ctx.print(flags.json ? JSON.stringify(withoutCurves(report)) : formatReport(report));
      if (flags.report) fs.writeFileSync(flags.report, reportFile(flags.report, report));
      const [load] = report.loads;
      if (load!.lost > 0) throw new CliError(`${load!.lost} of ${load!.sent} payments were not heard`, EXIT.TIMEOUT);
      if (load!.duplicates > 0) throw new CliError(`${load!.duplicates} payments were heard twice`, EXIT.FAILURE);
    });
}

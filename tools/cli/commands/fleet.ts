/**
 * `payspeaker fleet --devices 10000 --rate 2000 --duration 60s`: many virtual speakers and a
 * payment generator, to measure what merchants hear (lost, duplicated, how late) rather than
 * what a broker delivers. `--scenario FILE` plays a written-down day instead of one rate;
 * `--data DIR` runs against a secure broker. The work is in tools/fleet/; this file only reads
 * flags, checks what can be checked before the run, and prints.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { LANGUAGES, type Language } from '../../../src/speech/index.ts';
import { isTlsUrl } from '../../../src/mqtt/connect.ts';
import { VERSION } from '../../../src/version.ts';
import { DEFAULT_WINDOW, FLEET_DEFAULTS, runFleet, type FleetOptions } from '../../fleet/run.ts';
import { formatReport, withoutCurves, type FleetReport } from '../../fleet/report.ts';
import { checkReportTarget, ReportPathError, writeReport, type ReportTarget } from '../../fleet/report-file.ts';
import { loadScenario, ScenarioError, speedUp, type Scenario } from '../../fleet/scenario.ts';
import { FleetDataError } from '../../fleet/credentials.ts';
import { parseSourceAddresses, SourceAddressError } from '../../fleet/source-addresses.ts';
import { EmbeddedBrokerError } from '../../fleet/broker-process.ts';
import { OpenFilesError } from '../../fleet/open-files.ts';
import { terminalProgress } from '../../fleet/progress.ts';
import { commonOptions, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseDuration } from '../duration.ts';
import { parseCount } from '../options.ts';
import { addDataOption, resolveDataDir, type DataFlags } from '../data-option.ts';
import { brokerCliError, caOption, readCa } from '../broker-connection.ts';
import { parseBrokerUrl } from '../url-option.ts';

interface FleetFlags extends DataFlags {
  devices: number;
  rate: number | 'max';
  duration: string;
  broker?: string;
  ca?: string;
  workers: number | 'auto';
  lang: Language;
  insecure?: boolean;
  raw?: boolean;
  window: number;
  drain: string;
  warmup: string;
  prefix: string;
  seed: number;
  json?: boolean;
  report?: string;
  scenario?: string;
  speed: number;
  sourceAddresses?: string[];
  reconnectStorm?: string;
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

function parseSpeed(text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text) || !(Number(text) > 0))
    throw new InvalidArgumentError(
      `--speed must be a number above 0 (e.g. 10: ten times faster), got ${JSON.stringify(text)}`,
    );
  return Number(text);
}

function parseAddresses(text: string): string[] {
  try {
    return parseSourceAddresses(text);
  } catch (err) {
    if (err instanceof SourceAddressError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

function parseWorkers(text: string): number | 'auto' {
  return text === 'auto' ? 'auto' : parseCount('--workers')(text);
}

export function fleetCommand(ctx: CliContext): Command {
  const s = ctx.settings;
  const cmd = new Command('fleet')
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
      '--scenario <file>',
      'a scenario (YAML or JSON, docs/FLEET.md): phases of rates and ramps, amount, channel and language mixes, speakers going offline, reconnect storms, faults, button presses',
    )
    .addOption(
      new Option(
        '--speed <n>',
        'with --scenario: play it N times faster (durations and moments divided by N, rates unchanged)',
      )
        .argParser(parseSpeed)
        .default(1),
    )
    .option(
      '--broker <url>',
      'an MQTT 3.1.1 broker (default: start the embedded aedes broker); a secure payspeaker broker needs --data',
      parseBrokerUrl(),
    )
    .addOption(caOption())
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
      'send unsigned payments; speakers do not check signatures (default: sign with a fresh Ed25519 key the speakers are given, or with --data the backend key)',
    )
    .option('--raw', 'plain MQTT clients instead of speakers: what the broker alone delivers, as a baseline')
    .addOption(
      new Option(
        '--source-addresses <list>',
        'local addresses to spread the device connections over, e.g. 127.0.0.2,127.0.0.3 (one address reaches a broker port ~28,000 times; default: 127.0.0.1, 127.0.0.2, … one per 10,000 devices for a broker on loopback)',
      ).argParser(parseAddresses),
    )
    .option(
      '--reconnect-storm <at>',
      'at this moment of the load (e.g. 20s) cut every device connection at once; the report says how long until all were back and whether every payment was still heard once',
    )
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
    .option(
      '--warmup <duration>',
      'after connecting: wait for the fleet to go quiet, then send the first rate for this long, heard but counted in no figure (0: start measuring at once; with --scenario the default is 0)',
      `${FLEET_DEFAULTS.warmupMs / 1000}s`,
    )
    .option('--prefix <prefix>', 'device ids are PREFIX-00001, PREFIX-00002, …', FLEET_DEFAULTS.prefix)
    .addOption(
      new Option(
        '--seed <n>',
        "seed for which device gets each payment and its amount (and a scenario's groups and presses)",
      )
        .argParser(parseCount('--seed', 0))
        .default(FLEET_DEFAULTS.seed),
    )
    .option(
      '--report <file>',
      'also write a report; the extension decides: FILE.html (header, verdict, plot, figures), FILE.svg (the plot), FILE.json',
    )
    .addOption(commonOptions.json())
    .addHelpText(
      'after',
      `
Latency is from the payment's creation to the moment the speaker has the announcement's PCM
ready to play (playback itself is skipped), with a fixed-rate schedule so a stalled generator
cannot hide a slow system (coordinated omission). Exit codes: 0 every payment heard once
(a scenario: every check of its "expect" passed), 4 some were lost, 1 some were heard twice
or a scenario check failed, 2 bad usage, 5 broker unreachable, 6 the broker refused the
credentials.

--data DIR (a secure broker, given with --broker): the generator logs in as the backend from
DIR/broker/backend.json and signs with DIR's backend key; the speakers are provisioned in DIR's
registry (their secrets kept in DIR/fleet/PREFIX.json). Without --data the fleet connects
anonymously. For mqtts:// the CA is --ca FILE, else DIR/certs/ca.pem.

Examples:
  npx payspeaker fleet --devices 200 --rate 50 --duration 5s
  npx payspeaker fleet --devices 10000 --rate 2000 --duration 60s --report fleet.html
  npx payspeaker fleet --scenario scenarios/lunch-rush.yaml --report lunch.html
  npx payspeaker fleet --devices 100 --broker mqtts://127.0.0.1:8883 --data ~/.local/share/payspeaker
  npx payspeaker fleet --devices 10000 --rate max --raw --broker mqtt://127.0.0.1:1883
  npx payspeaker fleet --devices 10000 --rate 1000 --duration 60s --reconnect-storm 20s
  npx payspeaker fleet --devices 100000 --rate 1000 --duration 60s   # docs/FLEET.md: what 100,000 need`,
    );
  return addDataOption(cmd, s).action(async (flags: FleetFlags, self: Command) => {
    const given = (name: string) => self.getOptionValueSource(name) === 'cli';
    const opts = fleetOptions(flags, given);
    // Checked now, not after a ten-minute run.
    const target = flags.report ? reportTarget(flags.report) : null;
    const progress = terminalProgress();
    let report: FleetReport;
    try {
      report = await runFleet(opts, (snapshot) => progress.update(snapshot));
    } catch (err) {
      if (err instanceof ScenarioError) throw new CliError(err.message);
      if (err instanceof FleetDataError)
        throw new CliError(err.message, err.missingCredentials ? EXIT.REFUSED : EXIT.USAGE);
      if (err instanceof SourceAddressError) throw new CliError(err.message);
      if (err instanceof EmbeddedBrokerError || err instanceof OpenFilesError)
        throw new CliError(err.message, EXIT.NOT_STARTED);
      throw brokerCliError(err);
    } finally {
      progress.end();
    }
    ctx.print(flags.json ? JSON.stringify(withoutCurves(report)) : formatReport(report));
    if (target) {
      saveReport(target, report);
      // stdout stays one JSON object with --json: the path goes to stderr then.
      if (flags.json) process.stderr.write(`report written to ${target.file}\n`);
      else ctx.print(`report written to ${target.file}`);
    }
    const v = report.verdict;
    if (v.failed === 'lost') throw new CliError(v.reason, EXIT.TIMEOUT);
    if (v.failed) throw new CliError(v.reason, EXIT.FAILURE);
  });
}

function fleetOptions(flags: FleetFlags, given: (name: string) => boolean): FleetOptions {
  const prefix = flags.prefix;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,50}$/.test(prefix)) {
    throw new CliError(
      `--prefix ${JSON.stringify(prefix)} is not usable in device ids: use letters, digits, "-" or "_" (e.g. FLEET)`,
    );
  }
  // The fleet is anonymous unless told otherwise: a benchmark must not pick up credentials from the environment.
  const dataDir = given('data') || given('dataDir') ? resolveDataDir(flags) : null;
  if (dataDir && !flags.broker)
    throw new CliError(
      '--data DIR is for a secure broker: pass its URL too, e.g. --broker mqtt://127.0.0.1:1883 (the embedded broker lets anyone in)',
    );
  const scenario = flags.scenario ? speedUp(readScenario(flags.scenario, given), flags.speed) : null;
  if (!scenario && given('speed')) throw new CliError('--speed goes with --scenario FILE: it plays a scenario faster');
  const brokerUrl = flags.broker ?? null;
  const ca = brokerUrl && isTlsUrl(brokerUrl) ? readCa(flags.ca, dataDir ?? resolveDataDir(flags)) : null;
  const duration = parseDuration(flags.duration, '--duration');
  const storm = flags.reconnectStorm === undefined ? null : reconnectStorm(flags.reconnectStorm, duration, scenario);
  const drain =
    scenario?.drain !== undefined && !given('drain')
      ? scenario.drain
      : parseDuration(flags.drain, '--drain', { allowZero: true });
  return {
    ...FLEET_DEFAULTS,
    devices: scenario?.devices !== undefined && !given('devices') ? scenario.devices : flags.devices,
    loads: [{ rate: flags.rate, durationMs: duration, window: flags.window }],
    brokerUrl,
    workers: flags.workers,
    mode: flags.raw ? 'raw' : 'speakers',
    lang: flags.lang,
    signed: !flags.insecure,
    drainMs: drain,
    // A scenario is a day from its first minute: it warms up only when asked.
    warmupMs: scenario && !given('warmup') ? 0 : parseDuration(flags.warmup, '--warmup', { allowZero: true }),
    prefix,
    seed: scenario?.seed !== undefined && !given('seed') ? scenario.seed : flags.seed,
    dataDir,
    ca,
    scenario,
    sourceAddresses: flags.sourceAddresses ?? null,
    reconnectStormMs: storm,
  };
}

/** `--reconnect-storm AT`: a moment within the load, which a scenario's own `storms` would contradict. */
function reconnectStorm(text: string, durationMs: number, scenario: Scenario | null): number {
  if (scenario)
    throw new CliError(
      `--reconnect-storm does not go with --scenario: write the storm in ${scenario.file} (storms: [{ share: 1, at: 20s }])`,
    );
  const at = parseDuration(text, '--reconnect-storm', { allowZero: true });
  if (at >= durationMs)
    throw new CliError(
      `--reconnect-storm ${text} is not within the load (--duration ${durationMs / 1000} s): give a moment before its end, e.g. ${Math.floor(durationMs / 3000)}s`,
    );
  return at;
}

function readScenario(file: string, given: (name: string) => boolean): Scenario {
  const clash = ['rate', 'duration', 'window'].filter(given);
  if (clash.length > 0)
    throw new CliError(
      `--${clash[0]} does not go with --scenario: the scenario's phases set the rate and the duration (edit ${file}, or drop --${clash[0]})`,
    );
  try {
    return loadScenario(file);
  } catch (err) {
    if (err instanceof ScenarioError) throw new CliError(err.message);
    throw err;
  }
}

function reportTarget(file: string): ReportTarget {
  try {
    return checkReportTarget(file);
  } catch (err) {
    if (err instanceof ReportPathError) throw new CliError(err.message);
    throw err;
  }
}

function saveReport(target: ReportTarget, report: FleetReport): void {
  try {
    writeReport(target, report, { command: commandLine(), version: VERSION });
  } catch (err) {
    throw new CliError(
      `the run finished but its report could not be written to ${target.file}: ${(err as Error).message}`,
      EXIT.FAILURE,
    );
  }
}

/** The command as typed, quoted where a shell would need it, for the report's header. */
function commandLine(): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['payspeaker', ...process.argv.slice(2)].map(quote).join(' ');
}

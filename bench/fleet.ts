/**
 * `npm run bench`: what a merchant hears, against what the broker alone delivers, on the same
 * load and machine. Three fleets, one after another, each offered the same loads:
 *   (a) raw    — plain MQTT clients on the embedded aedes broker: publish → client receive
 *   (b) aedes  — speakers (the full device pipeline) on the embedded aedes broker
 *   (c) mosq.  — the same speakers on Mosquitto (installed with apt-get where missing and
 *                possible, run on a loopback port)
 * Each fleet connects once, then gets every load in turn: each fixed rate in --rate (latency
 * creation → PCM ready, corrected for coordinated omission), then --rate max with --window
 * payments outstanding (capacity). The ratios (b)/(a) and (b)/(c) compare capacity (heard/s at
 * max) and latency at the first fixed rate.
 * Before the first load each fleet settles and warms up (--warmup, tools/fleet/warmup.ts), and
 * every fixed-rate row shows the generator's lag behind its schedule beside the latency it is in.
 * Usage: npm run bench [-- --devices 10000] [-- --rate 1000[,5000]] [-- --duration 10s]
 *        [-- --max-duration 10s] [-- --window 1000] [-- --warmup 2s] [-- --only a,b,c] [-- --json] [-- --save FILE.json]
 */
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { withoutCurves, type FleetReport } from '../tools/fleet/report.ts';
import { findMosquitto, startMosquitto } from '../test/support/mosquitto.ts';
import {
  count,
  fleetFlags,
  fleetPlan,
  fmt,
  loadTable,
  machine as machineInfo,
  progress,
  ratio,
  runLabelled,
  showRatio,
  warmupLines,
} from './fleet-common.ts';

const { values } = parseArgs({
  options: {
    ...fleetFlags({ devices: '10000', duration: '10s', drain: '10s' }),
    only: { type: 'string', default: 'a,b,c' },
    save: { type: 'string' },
  },
});
if (values.help) {
  process.stdout.write(
    'Usage: npm run bench [-- --devices 10000] [-- --rate 1000[,5000]] [-- --duration 10s] [-- --max-duration 10s] [-- --window 1000] [-- --drain 10s] [-- --warmup 2s] [-- --only a,b,c] [-- --json] [-- --save FILE.json]\n',
  );
  process.exit(0);
}

const rates = values.rate.split(',').map((r) => count(r.trim(), '--rate'));
const base = fleetPlan(values, rates);
const { devices, loads } = base;
const only = new Set(values.only.split(',').map((s) => s.trim()));

/** Mosquitto, installed with apt-get if it is missing and this is a Debian-like machine run as root. */
function mosquittoBinary(): string | null {
  const found = findMosquitto();
  if (found) return found;
  const aptGet = spawnSync('apt-get', ['--version'], { stdio: 'ignore' });
  if (aptGet.error || process.getuid?.() !== 0) {
    progress('mosquitto is not installed (apt-get install mosquitto, or brew install mosquitto): skipping (c)');
    return null;
  }
  progress('installing mosquitto with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'mosquitto'], { stdio: 'inherit', env });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    install();
  }
  return findMosquitto();
}

const reports: Record<string, FleetReport> = {};
let mosquittoVersion: string | null = null;
if (only.has('a')) reports.a = await runLabelled('(a) raw MQTT, aedes', { ...base, mode: 'raw', brokerUrl: null });
if (only.has('b')) reports.b = await runLabelled('(b) speakers, aedes', { ...base, mode: 'speakers', brokerUrl: null });
if (only.has('c')) {
  const bin = mosquittoBinary();
  if (bin) {
    const mosquitto = await startMosquitto(bin);
    mosquittoVersion = mosquitto.version;
    try {
      reports.c = await runLabelled(`(c) speakers, ${mosquitto.version}`, {
        ...base,
        mode: 'speakers',
        brokerUrl: mosquitto.url,
      });
    } finally {
      await mosquitto.stop();
    }
  }
}

const capacity = (r: FleetReport | undefined) => r?.loads.at(-1)?.heardPerSecond ?? NaN;
const fixed = (r: FleetReport | undefined) => r?.loads[0];
const ratios = {
  capacity: {
    bOverA: ratio(capacity(reports.b), capacity(reports.a)),
    bOverC: ratio(capacity(reports.b), capacity(reports.c)),
  },
  p50AtFirstRate: {
    bOverA: ratio(fixed(reports.b)?.latency.corrected.p50, fixed(reports.a)?.latency.corrected.p50),
    bOverC: ratio(fixed(reports.b)?.latency.corrected.p50, fixed(reports.c)?.latency.corrected.p50),
  },
  p99AtFirstRate: {
    bOverA: ratio(fixed(reports.b)?.latency.corrected.p99, fixed(reports.a)?.latency.corrected.p99),
    bOverC: ratio(fixed(reports.b)?.latency.corrected.p99, fixed(reports.c)?.latency.corrected.p99),
  },
};

const machine = machineInfo();
const json = `${JSON.stringify({ machine, mosquitto: mosquittoVersion, devices, loads, reports: Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, withoutCurves(r)])), ratios })}\n`;
if (values.save) fs.writeFileSync(values.save, json);
process.stdout.write(values.json ? json : table());

function table(): string {
  const names: Record<string, string> = {
    a: '(a) raw MQTT, aedes',
    b: '(b) speakers, aedes',
    c: `(c) speakers, ${(mosquittoVersion ?? 'mosquitto').replace(' version', '')}`,
  };
  const lines = [
    `payspeaker bench — ${devices} devices; Node ${machine.node}, ${machine.cpus} CPUs (${machine.cpu})`,
    '',
  ];
  lines.push(
    `${'fleet'.padEnd(32)} ${'connect s'.padStart(9)} ${'KB/device'.padStart(10)}   CPU ms per payment: workers, broker, generator`,
  );
  for (const [k, r] of Object.entries(reports)) {
    const c = r.cpuMsPerPayment;
    lines.push(
      `${names[k]!.padEnd(32)} ${fmt(r.connect.seconds).padStart(9)} ${fmt(r.memory.perDeviceKB.rssConnected).padStart(10)}   ${[c.workers, c.broker, c.generator].map(fmt).join(', ')}`,
    );
  }
  lines.push('', ...warmupLines(reports, names));
  for (const [i, load] of loads.entries()) lines.push('', ...loadTable(load, i, reports, names));
  lines.push(
    '',
    `ratios (b)/(a), (b)/(c): capacity (heard/s at max) ${showRatio(ratios.capacity.bOverA)}, ${showRatio(ratios.capacity.bOverC)}; ` +
      `p50 at ${rates[0]}/s ${showRatio(ratios.p50AtFirstRate.bOverA)}, ${showRatio(ratios.p50AtFirstRate.bOverC)}; p99 ${showRatio(ratios.p99AtFirstRate.bOverA)}, ${showRatio(ratios.p99AtFirstRate.bOverC)}`,
    '',
  );
  return lines.join('\n');
}

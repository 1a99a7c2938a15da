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
 * Usage: npm run bench [-- --devices 10000] [-- --rate 1000[,5000]] [-- --duration 10s]
 *        [-- --max-duration 10s] [-- --window 1000] [-- --only a,b,c] [-- --json] [-- --save FILE.json]
 */
import fs from 'node:fs';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { FLEET_DEFAULTS, runFleet, type FleetOptions } from '../tools/fleet/run.ts';
import { describeLoad, withoutCurves, type FleetReport, type LoadReport } from '../tools/fleet/report.ts';
import type { Load } from '../tools/fleet/generator.ts';
import { parseDuration } from '../tools/cli/duration.ts';
import { findMosquitto, startMosquitto } from '../test/support/mosquitto.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10s' },
    'max-duration': { type: 'string', default: '10s' },
    window: { type: 'string', default: '1000' },
    drain: { type: 'string', default: '10s' },
    only: { type: 'string', default: 'a,b,c' },
    json: { type: 'boolean', default: false },
    save: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'Usage: npm run bench [-- --devices 10000] [-- --rate 1000[,5000]] [-- --duration 10s] [-- --max-duration 10s] [-- --window 1000] [-- --drain 10s] [-- --only a,b,c] [-- --json] [-- --save FILE.json]\n',
  );
  process.exit(0);
}

const count = (text: string, flag: string) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${text}`);
  return n;
};
const devices = count(values.devices, '--devices');
const window = count(values.window, '--window');
const rates = values.rate.split(',').map((r) => count(r.trim(), '--rate'));
const loads: Load[] = [
  ...rates.map((rate) => ({ rate, durationMs: parseDuration(values.duration, '--duration'), window })),
  { rate: 'max', durationMs: parseDuration(values['max-duration'], '--max-duration'), window },
];
const only = new Set(values.only.split(',').map((s) => s.trim()));
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const base: Omit<FleetOptions, 'mode' | 'brokerUrl'> = {
  ...FLEET_DEFAULTS,
  devices,
  loads,
  drainMs: parseDuration(values.drain, '--drain'),
};

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

async function fleet(label: string, opts: FleetOptions): Promise<FleetReport> {
  progress(
    `${label}: ${devices} ${opts.mode === 'raw' ? 'raw MQTT clients' : 'speakers'}; loads ${loads.map(describeLoad).join(', then ')}`,
  );
  const started = performance.now();
  const report = await runFleet(opts);
  progress(
    `${label}: done in ${((performance.now() - started) / 1000).toFixed(0)} s (connect ${report.connect.seconds} s)`,
  );
  return report;
}

const reports: Record<string, FleetReport> = {};
let mosquittoVersion: string | null = null;
if (only.has('a')) reports.a = await fleet('(a) raw MQTT, aedes', { ...base, mode: 'raw', brokerUrl: null });
if (only.has('b')) reports.b = await fleet('(b) speakers, aedes', { ...base, mode: 'speakers', brokerUrl: null });
if (only.has('c')) {
  const bin = mosquittoBinary();
  if (bin) {
    const mosquitto = await startMosquitto(bin);
    mosquittoVersion = mosquitto.version;
    try {
      reports.c = await fleet(`(c) speakers, ${mosquitto.version}`, {
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
const ratio = (x: number | undefined, y: number | undefined) =>
  x !== undefined && y !== undefined && y > 0 ? Math.round((x / y) * 100) / 100 : null;
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

const machine = {
  node: process.version,
  cpus: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
};
const json = `${JSON.stringify({ machine, mosquitto: mosquittoVersion, devices, loads, reports: Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, withoutCurves(r)])), ratios })}\n`;
if (values.save) fs.writeFileSync(values.save, json);
process.stdout.write(values.json ? json : table());

function table(): string {
  const f = (x: number | undefined) =>
    x === undefined || !Number.isFinite(x)
      ? '—'
      : Number.isInteger(x) || x >= 100
        ? x.toFixed(0)
        : x < 10
          ? x.toFixed(2)
          : x.toFixed(1);
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
      `${names[k]!.padEnd(32)} ${f(r.connect.seconds).padStart(9)} ${f(r.memory.perDeviceKB.rssConnected).padStart(10)}   ${[c.workers, c.broker ?? undefined, c.generator].map(f).join(', ')}`,
    );
  }
  for (const [i, load] of loads.entries()) {
    lines.push(
      '',
      `load: ${describeLoad({ rate: load.rate, window: load.rate === 'max' ? load.window : null })} for ${load.durationMs / 1000} s; latency ms, creation → PCM ready (raw: received), corrected`,
    );
    lines.push(
      `${'fleet'.padEnd(32)} ${['sent', 'heard/s', 'lost', 'dup', 'p50', 'p90', 'p99', 'max'].map((h) => h.padStart(8)).join('')}`,
    );
    for (const [k, r] of Object.entries(reports)) {
      const l: LoadReport = r.loads[i]!;
      const c = l.latency.corrected;
      lines.push(
        `${names[k]!.padEnd(32)} ${[l.sent, l.heardPerSecond, l.lost, l.duplicates, c.p50, c.p90, c.p99, c.max].map((x) => f(x).padStart(8)).join('')}`,
      );
    }
  }
  const show = (x: number | null) => (x === null ? '—' : `${x}`);
  lines.push(
    '',
    `ratios (b)/(a), (b)/(c): capacity (heard/s at max) ${show(ratios.capacity.bOverA)}, ${show(ratios.capacity.bOverC)}; ` +
      `p50 at ${rates[0]}/s ${show(ratios.p50AtFirstRate.bOverA)}, ${show(ratios.p50AtFirstRate.bOverC)}; p99 ${show(ratios.p99AtFirstRate.bOverA)}, ${show(ratios.p99AtFirstRate.bOverC)}`,
    '',
  );
  return lines.join('\n');
}

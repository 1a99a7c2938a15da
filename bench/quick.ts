/**
 * `npm run bench:quick`: the benchmark guard, under a minute. 2,000 devices on the embedded
 * aedes broker, twice: (a) raw MQTT clients, (b) speakers (the full device pipeline); each gets
 * 1,000 payments/s for 5 s, then max rate for 5 s. It prints the ratios speakers/raw for
 * capacity (heard/s at max) and for p99 at the fixed rate, with the raw figures they are
 * relative to and the generator's lag behind its schedule. The ratios, rather than the figures,
 * are what stays comparable from one run (or machine load) to the next: quote them before and
 * after a change that touches speed. Not a test: nothing is asserted, CI does not run it.
 * Usage: npm run bench:quick [-- --devices 2000] [-- --rate 1000] [-- --duration 5s]
 *        [-- --max-duration 5s] [-- --window 1000] [-- --warmup 2s] [-- --json]
 */
import { parseArgs } from 'node:util';
import { withoutCurves, type FleetReport } from '../tools/fleet/report.ts';
import {
  count,
  fleetFlags,
  fleetPlan,
  fmt,
  loadTable,
  machine,
  ratio,
  runLabelled,
  showRatio,
  warmupLines,
} from './fleet-common.ts';

const USAGE =
  'Usage: npm run bench:quick [-- --devices 2000] [-- --rate 1000] [-- --duration 5s] [-- --max-duration 5s] [-- --window 1000] [-- --warmup 2s] [-- --drain 5s] [-- --json]\n' +
  'Raw MQTT clients, then speakers, on the embedded aedes broker: a fixed rate, then max rate. Prints the ratios\n' +
  'speakers/raw for capacity (heard/s at max) and for p99 at the fixed rate, the raw figures and the generator lag.\n';

const { values } = parseArgs({
  options: fleetFlags({ devices: '2000', duration: '5s', drain: '5s' }),
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const rate = count(values.rate, '--rate');
const base = { ...fleetPlan(values, [rate]), brokerUrl: null };
const { devices, loads } = base;

const started = performance.now();
const reports: Record<string, FleetReport> = {
  raw: await runLabelled('(a) raw MQTT, aedes', { ...base, mode: 'raw' }),
  speakers: await runLabelled('(b) speakers, aedes', { ...base, mode: 'speakers' }),
};
const seconds = Math.round((performance.now() - started) / 1000);

const fixed = (r: FleetReport) => r.loads[0]!;
const capacity = (r: FleetReport) => r.loads[1]!.heardPerSecond;
const { raw, speakers } = reports as { raw: FleetReport; speakers: FleetReport };
const summary = {
  ratios: {
    capacity: ratio(capacity(speakers), capacity(raw)),
    p99AtRate: ratio(fixed(speakers).latency.corrected.p99, fixed(raw).latency.corrected.p99),
  },
  raw: {
    capacity: capacity(raw),
    p50AtRate: fixed(raw).latency.corrected.p50,
    p99AtRate: fixed(raw).latency.corrected.p99,
  },
  speakers: {
    capacity: capacity(speakers),
    p50AtRate: fixed(speakers).latency.corrected.p50,
    p99AtRate: fixed(speakers).latency.corrected.p99,
  },
  generatorLagAtRate: { raw: fixed(raw).generatorLag, speakers: fixed(speakers).generatorLag },
  ok: raw.ok && speakers.ok,
};

if (values.json) {
  const all = Object.fromEntries(Object.entries(reports).map(([k, r]) => [k, withoutCurves(r)]));
  process.stdout.write(
    `${JSON.stringify({ machine: machine(), devices, loads, seconds, ...summary, reports: all })}\n`,
  );
} else {
  process.stdout.write(table());
}

function table(): string {
  const m = machine();
  const names = { raw: '(a) raw MQTT, aedes', speakers: '(b) speakers, aedes' };
  const lag = (l: FleetReport['loads'][number]['generatorLag']) =>
    l ? `p50 ${fmt(l.p50)} ms, p99 ${fmt(l.p99)} ms` : '—';
  return [
    `payspeaker bench:quick — ${devices} devices; Node ${m.node}, ${m.cpus} CPUs (${m.cpu}), load average ${m.loadavgAtEnd.join(' ')}; ${seconds} s`,
    '',
    ...warmupLines(reports, names),
    ...loads.flatMap((load, i) => ['', ...loadTable(load, i, reports, names)]),
    '',
    `speakers / raw:  capacity ${showRatio(summary.ratios.capacity)} (${fmt(summary.speakers.capacity)} / ${fmt(summary.raw.capacity)} heard/s at max);` +
      ` p99 at ${rate}/s ${showRatio(summary.ratios.p99AtRate)} (${fmt(summary.speakers.p99AtRate)} / ${fmt(summary.raw.p99AtRate)} ms)`,
    `generator lag at ${rate}/s: raw ${lag(summary.generatorLagAtRate.raw)}; speakers ${lag(summary.generatorLagAtRate.speakers)}`,
    summary.ok
      ? 'ok: every payment heard exactly once'
      : `NOT OK: raw ${raw.verdict.reason}; speakers ${speakers.verdict.reason}`,
    '',
  ].join('\n');
}

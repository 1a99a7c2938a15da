/**
 * `npm run chaos -- --payments 100000`: the chaos run at any size, with throughput. Prints
 * progress to stderr every second and the counts at the end (JSON with --json); exits 1 when a
 * payment was lost, announced twice, or left without a final status.
 *
 *   --payments N   (default 1000)   --devices N (10)   --rate N payments/s (50)
 *   --mean-fault-after MS (3000)    --seed N (random)  --no-kill-broker  --no-kill-device
 *   --drain MS (60000, or 5 ms per payment if more)   --keep DIR   --json
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CHAOS_DEFAULTS, runChaos, type ChaosReport } from '../tools/chaos/scenario.ts';
import { randomSeed } from '../tools/chaos/random.ts';

const USAGE = `Usage: npm run chaos -- [--payments 1000] [--devices 10] [--rate 50] [--mean-fault-after 3000]
       [--seed N] [--no-kill-broker] [--no-kill-device] [--drain MS] [--keep DIR] [--json]
Sends payments through the notification API to speaker processes behind a fault proxy, kills the
broker and one speaker once each, then checks every payment was announced exactly once.
--keep DIR runs in DIR (a new or empty folder) and leaves everything there afterwards: the
broker's database (every payment's history), the speakers' NVS and WAVs, and each process's
log under DIR/logs.
Exit codes: 0 all announced once, 1 something lost, twice or pending, 2 bad option.
`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        payments: { type: 'string' },
        devices: { type: 'string' },
        rate: { type: 'string' },
        'mean-fault-after': { type: 'string' },
        seed: { type: 'string' },
        'no-kill-broker': { type: 'boolean' },
        'no-kill-device': { type: 'boolean' },
        drain: { type: 'string' },
        keep: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`chaos: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const { values } = parseOptions();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function count(name: string, fallback: number): number {
  const text = values[name as keyof typeof values] as string | undefined;
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`chaos: --${name} ${JSON.stringify(text)} is not a positive whole number`);
    process.exit(2);
  }
  return n;
}

const seed = values.seed === undefined ? randomSeed() : count('seed', 1);
if (values.keep !== undefined && fs.existsSync(values.keep) && fs.readdirSync(values.keep).length > 0) {
  console.error(
    `chaos: --keep ${values.keep} is not empty: give a new or empty folder, so this run's data is not mixed with another's`,
  );
  process.exit(2);
}
const report = await runChaos({
  payments: count('payments', CHAOS_DEFAULTS.payments),
  devices: count('devices', CHAOS_DEFAULTS.devices),
  rate: count('rate', CHAOS_DEFAULTS.rate),
  meanFaultMs: count('mean-fault-after', CHAOS_DEFAULTS.meanFaultMs),
  seed,
  killBroker: !values['no-kill-broker'],
  killDevice: !values['no-kill-device'],
  // A long run leaves a longer tail behind the broker and speaker restarts.
  drainMs: count('drain', Math.max(CHAOS_DEFAULTS.drainMs, count('payments', CHAOS_DEFAULTS.payments) * 5)),
  ...(values.keep === undefined ? {} : { dataDir: path.resolve(values.keep) }),
  onProgress: (p) =>
    console.error(
      `chaos [${p.phase}] accepted ${p.accepted}/${p.payments}, final ${p.final}, faults ${p.faults}, broker kills ${p.brokerKills}, speaker kills ${p.deviceKills}`,
    ),
});

console.log(values.json ? JSON.stringify(report) : describe(report));
process.exitCode = report.ok ? 0 : 1;

function describe(r: ChaosReport): string {
  const s = r.statuses;
  const faults =
    Object.entries(r.faults.injected)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  return [
    `chaos run (seed ${r.seed}): ${r.payments} payments to ${r.devices} speakers in ${(r.durationMs / 1000).toFixed(1)} s — ${r.ok ? 'OK' : 'FAILED'}`,
    `  statuses:   played ${s.played}, duplicate ${s.duplicate}, summarized ${s.summarized}, rejected ${s.rejected}, expired ${s.expired}, still pending ${s.queued + s.delivered}`,
    `  announced:  exactly once ${r.audio.once}, more than once ${r.audio.twice}, missing ${r.audio.missing}, unexpected ${r.audio.unexpected}`,
    `  faults:     proxy ${faults}; broker SIGKILLed ${r.faults.brokerKills}×, speaker SIGKILLed ${r.faults.deviceKills}×; API retries while the broker was down ${r.faults.apiRetries}`,
    `  throughput: accepted ${r.acceptedPerSecond}/s, accepted → final ${r.finalPerSecond}/s`,
    ...r.audio.problems.map((p) => `  problem:    ${p}`),
    ...r.unplayed.causes
      .slice(0, 10)
      .map((c) => `  not played: ${c.count} ${c.status}${c.reason ? ` (${c.reason})` : ''} on ${c.device}`),
    ...r.unplayed.examples.map(
      ({ payment: p, history }) =>
        `  example:    ${p.id} on ${p.device}, ${p.attempts} attempts: ${history.map((h) => `${h.event}→${h.status}${h.detail ? ` (${h.detail})` : ''}`).join(', ')}`,
    ),
  ].join('\n');
}

/**
 * `npm run bench:nvs`: what a payment costs the speaker's NVS (the journaled file driver).
 * A realistic store is put in place first — 1,000 remembered payment ids (~40 bytes each) and
 * 100 pending payments (~400 bytes each) — then each operation sets one 400-byte key and deletes
 * another in one turn (a payment arrives, the oldest pending one leaves) and awaits durability,
 * one after the other. Prints operations per second, latency, bytes written per operation
 * (journal lines plus compaction snapshots) and how often a compaction ran.
 * The store lives in a temp directory under --dir (default: the OS temp dir): point it at the
 * disk you care about, since fdatasync dominates.
 * Usage: npm run bench:nvs [-- --ops 3000] [-- --dir /var/tmp] [-- --json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Nvs } from '../device/drivers/nvs.ts';
import { openFileNvs } from '../device/drivers/nvs-file.ts';
import { formatMs, summarize } from './stats.ts';

const USAGE = `Usage: npm run bench:nvs [-- --ops 3000] [-- --dir /var/tmp] [-- --json]

What a payment costs the speaker's NVS (journaled file driver), with 1,100 keys in place:
sequential "set one 400-byte key + delete another, await durable" operations.
  --ops N     operations to time (default 3000)
  --dir DIR   where the temp store goes; fdatasync dominates, so pick the disk you care about
  --json      one JSON object instead of the text report
`;

function usageError(message: string): never {
  process.stderr.write(`bench:nvs: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      ops: { type: 'string', default: '3000' },
      dir: { type: 'string', default: os.tmpdir() },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  usageError((err as Error).message);
}
const args = parsed.values;
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const ops = Number(args.ops);
if (!Number.isInteger(ops) || ops < 1) usageError(`--ops must be a positive integer, got "${args.ops}"`);

const REMEMBERED = 1_000;
const PENDING = 100;

/** A payment id remembered for dedupe: ~40 bytes of JSON with its key. */
function rememberedEntry(i: number): [string, unknown] {
  return [`handled.pay_${String(i).padStart(8, '0')}`, 1_764_000_000_000 + i];
}

/** A pending payment as the speaker stores it: ~400 bytes of JSON with its key. */
function pendingEntry(i: number): [string, unknown] {
  const id = `pay_${String(i).padStart(8, '0')}`;
  const payment = {
    id,
    amount: 12_345 + i,
    currency: 'INR',
    channel: 'upi',
    kind: 'payment',
    payer: 'R. Sharma',
    at: 1_764_000_000_000 + i,
  };
  return [`inbox.${id}`, { payment, sig: 'S'.repeat(180), attempts: 1, received: 1_764_000_000_000 + i }];
}

interface Totals {
  writes: number;
  bytes: number;
  compactions: number;
}

/** Opens a fresh store that adds every durable write to `totals`. */
async function openCounted(file: string, totals: Totals): Promise<Nvs> {
  return openFileNvs(file, {
    onWrite: ({ bytes, compacted }) => {
      totals.writes += 1;
      totals.bytes += bytes;
      if (compacted) totals.compactions += 1;
    },
  });
}

/** Sequential operations: set one pending payment, delete the oldest, await both. Latencies in ms. */
async function run(nvs: Nvs, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const [key, value] = pendingEntry(PENDING + i);
    const t = performance.now();
    await Promise.all([nvs.set({ [key]: value }), nvs.delete([pendingEntry(i)[0]])]);
    latencies.push(performance.now() - t);
  }
  return latencies;
}

const dir = await mkdtemp(path.join(args.dir, 'payspeaker-bench-nvs-'));
try {
  const totals: Totals = { writes: 0, bytes: 0, compactions: 0 };
  const nvs = await openCounted(path.join(dir, 'nvs.json'), totals);
  const initial = [
    ...Array.from({ length: REMEMBERED }, (_, i) => rememberedEntry(i)),
    ...Array.from({ length: PENDING }, (_, i) => pendingEntry(i)),
  ];
  await nvs.set(Object.fromEntries(initial));
  const storeBytes = JSON.stringify(Object.fromEntries(initial)).length;
  Object.assign(totals, { writes: 0, bytes: 0, compactions: 0 });

  const started = performance.now();
  const latencies = await run(nvs, ops);
  const seconds = (performance.now() - started) / 1000;
  await nvs.close();

  const cpu = os.cpus()[0];
  const report = {
    machine: { cpu: cpu?.model ?? 'unknown', cores: os.cpus().length, node: process.version, dir: args.dir },
    store: { keys: REMEMBERED + PENDING, bytes: storeBytes },
    ops,
    opsPerSecond: ops / seconds,
    bytesPerOp: totals.bytes / ops,
    writes: totals.writes,
    compactions: totals.compactions,
    opsPerCompaction: totals.compactions > 0 ? ops / totals.compactions : null,
    latencyMs: summarize(latencies),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const m = report.machine;
    process.stdout.write(
      [
        `machine      ${m.cpu} x ${m.cores}, node ${m.node}, store under ${m.dir}`,
        `store        ${report.store.keys} keys, ${(storeBytes / 1024).toFixed(1)} KiB as JSON`,
        `operations   ${ops} x (set one 400-byte key + delete another, await durable), sequential`,
        `throughput   ${report.opsPerSecond.toFixed(0)} ops/s`,
        `latency      ${formatMs(report.latencyMs)}`,
        `written      ${report.bytesPerOp.toFixed(0)} bytes/op (journal lines and compaction snapshots), ${report.writes} writes`,
        `compactions  ${report.compactions}${report.opsPerCompaction ? `, one per ${report.opsPerCompaction.toFixed(0)} ops` : ''}`,
        '',
      ].join('\n'),
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Entry point of a fleet worker process (forked by pool.ts with tsx and --expose-gc). Each
 * process holds a slice of the fleet: its own event loop on a core, and its own file table, so
 * 10,000 sockets are spread under the per-process open-file limit.
 */
import { adoptClock } from './clock.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './messages.ts';
import { sampleProcess } from './sample.ts';
import { HeardReporter } from './reporter.ts';
import { rawSlice } from './raw-clients.ts';
import { speakerSlice, type Slice } from './speakers.ts';

const send = (m: FromWorker) => process.send?.(m);

let slice: Slice | null = null;
let reporter: HeardReporter | null = null;

let devices = 0;

async function setUp(setup: WorkerSetup): Promise<void> {
  adoptClock(setup.clockOffset);
  reporter = new HeardReporter(setup.runId, send);
  slice = setup.mode === 'raw' ? rawSlice(setup, reporter) : await speakerSlice(setup, reporter);
  devices = setup.to - setup.from;
  send({ t: 'booted', memory: sampleProcess() });
}

async function connect(): Promise<void> {
  // Progress at most every 100 connections, not one IPC message per device.
  await slice!.start((count) => count % 100 === 0 && send({ t: 'online', count }));
  send({ t: 'online', count: devices });
  send({ t: 'connected', memory: sampleProcess() });
}

/**
 * A reconnect storm: every link cut in the same turn of the event loop, then the online count
 * sent as the devices come back (for the progress line and for the coordinator to know when all
 * are back), every 250 ms until the last one is.
 */
function storm(): void {
  const links = slice!.links;
  const { dropped, at } = links.storm();
  send({ t: 'stormed', dropped, at });
  const report = () => send({ t: 'online', count: devices - dropped + links.counts.back });
  report();
  const timer = setInterval(() => {
    report();
    if (links.counts.back >= dropped) clearInterval(timer);
  }, 250).unref();
}

async function stop(): Promise<void> {
  reporter?.flush();
  const m = sampleProcess();
  await slice?.stop();
  reporter?.close();
  send({ t: 'stopped', memory: m });
  process.disconnect?.();
}

function fail(err: unknown): void {
  send({ t: 'failed', message: (err as Error).stack ?? String(err) });
}

process.on('message', (m: ToWorker) => {
  if (m.t === 'setup') setUp(m.setup).catch(fail);
  else if (m.t === 'connect') connect().catch(fail);
  else if (m.t === 'memory') send({ t: 'memory', memory: sampleProcess() });
  else if (m.t === 'stop') stop().catch(fail);
  else if (m.t === 'press') slice?.press?.(m.index, m.button);
  else if (m.t === 'storm') storm();
  else if (m.t === 'storm-result') send({ t: 'storm-result', reconnectMs: slice!.links.reconnectMs() });
});
// The coordinator went away: nothing left to report to.
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());

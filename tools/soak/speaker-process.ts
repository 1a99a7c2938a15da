/**
 * The soak run's handle on one forked speaker process (worker.ts): boots its share of the
 * speakers, asks it for a memory sample, stops it, and keeps what it reported (counters, heard
 * payments, a failure). Its own file because it is the IPC side of the run, apart from the rig
 * that starts the broker and proxy.
 */
import type { ChildProcess } from 'node:child_process';
import { forkEntry, nextMessage, reap } from '../fleet/child.ts';
import type { ProcessSample } from '../fleet/messages.ts';
import type { FromSoakWorker, SoakWorkerSetup } from './messages.ts';

/** One forked speaker process (worker.ts) and what it has reported. */
export class SpeakerProcess {
  readonly child: ChildProcess;
  counters = { online: 0, redelivered: 0, rejected: 0, reasons: [] as string[] };
  failure: string | null = null;
  private stopping = false;

  constructor(
    readonly n: number,
    onHeard: (m: { announced: string[]; summarized: string[] }) => void,
    onOnline: () => void,
  ) {
    this.child = forkEntry('../soak/worker.ts', ['--expose-gc']);
    this.child.on('message', (m: FromSoakWorker) => {
      if (m.t === 'heard') onHeard(m);
      else if (m.t === 'counters') {
        this.counters = m;
        onOnline();
      } else if (m.t === 'failed') this.failure = m.message;
    });
    this.child.once('exit', (code, signal) => {
      if (!this.stopping) this.failure ??= `exited on its own (${signal ?? `code ${code}`})`;
    });
  }

  async boot(setup: SoakWorkerSetup): Promise<void> {
    const ready = this.expect('ready', 'starting its speakers');
    this.child.send({ t: 'setup', setup });
    await ready;
  }

  memory(): Promise<ProcessSample> {
    const reply = this.expect('memory', 'sampling memory');
    this.child.send({ t: 'memory' });
    return reply;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.connected) {
      const done = this.expect('stopped', 'stopping').catch(() => undefined);
      this.child.send({ t: 'stop' });
      await Promise.race([done, sleep(30_000)]);
    }
    await reap(this.child, 2000);
  }

  private expect(t: 'ready' | 'memory' | 'stopped', doing: string): Promise<ProcessSample> {
    return nextMessage<FromSoakWorker, { memory?: ProcessSample; failure?: string }>(
      this.child,
      (m) =>
        m.t === t
          ? { memory: 'memory' in m ? m.memory : undefined }
          : m.t === 'failed'
            ? { failure: m.message }
            : undefined,
      `soak speaker process ${this.n} (${doing})`,
    ).then((r) => {
      if (r.failure !== undefined)
        throw new Error(`soak speaker process ${this.n} failed while ${doing}: ${r.failure}`);
      return r.memory!;
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

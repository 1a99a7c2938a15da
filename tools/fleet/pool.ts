/**
 * The coordinator's side of the worker processes: splits the devices into slices, forks one
 * worker per slice, and merges what they report — connections, heard payments, counters and
 * memory — for the tally and the progress line.
 */
import type { ChildProcess } from 'node:child_process';
import { forkEntry, nextMessage, reap } from './child.ts';
import type { FromWorker, HeardBatch, ProcessSample, WorkerCounters, WorkerSetup } from './messages.ts';
import type { ButtonName } from './scenario.ts';

/**
 * Connections being opened at once across all workers: under the broker's listen backlog (511
 * in Node). Past it, SYNs are dropped and retried a second later; at 13 workers of 200 each a
 * 100,000-speaker fleet would spend its connect time waiting on retransmits.
 */
const FLEET_CONNECTING_MAX = 400;

/** The whole fleet's setup: the pool cuts each worker's slice, per-device lists included. */
export type SliceSetup = Omit<WorkerSetup, 'from' | 'to'> & {
  /** Worker w's broker, when the embedded one is sharded (broker-shards.ts); else all use brokerUrl. */
  workerBrokerUrls?: string[];
};

export interface PoolMemory {
  /** Per worker, after a GC: before any device existed (voice pack loaded), all connected, at the end. */
  booted: ProcessSample[];
  connected: ProcessSample[];
  end: ProcessSample[];
}

export class WorkerPool {
  private readonly children: ChildProcess[] = [];
  private readonly online: number[];
  private readonly counters: WorkerCounters[];
  readonly memory: PoolMemory = { booted: [], connected: [], end: [] };

  constructor(
    private readonly devices: number,
    private readonly workers: number,
    private readonly onHeard: (batch: HeardBatch) => void,
  ) {
    this.online = new Array<number>(workers).fill(0);
    this.counters = Array.from({ length: workers }, () => ({
      redelivered: 0,
      rejected: 0,
      stray: 0,
      buttons: 0,
      reasons: [],
    }));
  }

  get connected(): number {
    return this.online.reduce((a, b) => a + b, 0);
  }

  get totals(): WorkerCounters {
    const sum = (k: 'redelivered' | 'rejected' | 'stray' | 'buttons') => this.counters.reduce((a, c) => a + c[k], 0);
    return {
      redelivered: sum('redelivered'),
      rejected: sum('rejected'),
      stray: sum('stray'),
      buttons: sum('buttons'),
      reasons: this.counters.flatMap((c) => c.reasons).slice(0, 5),
    };
  }

  /** Forks the workers, each with its slice of devices; resolves once all have loaded the voice. */
  async boot({ workerBrokerUrls, ...setup }: SliceSetup): Promise<void> {
    const per = this.per;
    const booted: Promise<ProcessSample>[] = [];
    const cut = <T>(list: T[] | null, from: number, to: number) => list?.slice(from, to) ?? null;
    for (let w = 0; w < this.workers; w++) {
      const from = w * per;
      const to = Math.min(this.devices, from + per);
      const child = forkEntry('./worker.ts', ['--expose-gc']);
      this.children.push(child);
      child.on('message', (m: FromWorker) => this.onMessage(w, m));
      booted.push(this.expect(w, 'booted', 'starting'));
      const { langs, routes, passwords } = setup.perDevice;
      const perDevice = {
        langs: cut(langs, from, to),
        routes: cut(routes, from, to),
        passwords: cut(passwords, from, to),
      };
      // The per-worker figure (FleetOptions.connectConcurrency, 200) holds for a few workers; many share the budget.
      const connectConcurrency = Math.max(
        1,
        Math.min(setup.connectConcurrency, Math.ceil(FLEET_CONNECTING_MAX / this.workers)),
      );
      const brokerUrl = workerBrokerUrls?.[w] ?? setup.brokerUrl;
      child.send({ t: 'setup', setup: { ...setup, brokerUrl, from, to, perDevice, connectConcurrency } });
    }
    await Promise.all(booted);
  }

  private get per(): number {
    return Math.ceil(this.devices / this.workers);
  }

  /** Presses a button on device `index`, in the worker that holds it. */
  press(index: number, button: ButtonName): void {
    const child = this.children[Math.floor(index / this.per)];
    if (child?.connected) child.send({ t: 'press', index, button });
  }

  /** Has every worker connect its devices; resolves once all are connected and subscribed. */
  async connect(): Promise<void> {
    await Promise.all(
      this.children.map((child, w) => {
        const connected = this.expect(w, 'connected', 'connecting its devices');
        child.send({ t: 'connect' });
        return connected;
      }),
    );
  }

  /** A reconnect storm: every worker cuts all its devices' links at once; per worker, how many and when (epoch ms). */
  storm(): Promise<{ dropped: number; at: number }[]> {
    return Promise.all(
      this.children.map((child, w) => {
        const reply = this.reply(
          w,
          (m) => (m.t === 'stormed' ? { dropped: m.dropped, at: m.at } : undefined),
          'cutting its links',
        );
        child.send({ t: 'storm' });
        return reply;
      }),
    );
  }

  /** Per worker, every dropped device's reconnect time so far, in ms (NaN: still offline). */
  async stormResults(): Promise<Float64Array[]> {
    return Promise.all(
      this.children.map((child, w) => {
        const reply = this.reply(w, (m) => (m.t === 'storm-result' ? m.reconnectMs : undefined), 'reporting the storm');
        child.send({ t: 'storm-result' });
        return reply;
      }),
    );
  }

  /** Asks every worker for its memory (after a GC). */
  sampleMemory(): Promise<ProcessSample[]> {
    return Promise.all(
      this.children.map((child, w) => {
        const reply = this.expect(w, 'memory', 'sampling memory');
        child.send({ t: 'memory' });
        return reply;
      }),
    );
  }

  /** Stops every device (a clean MQTT disconnect) and the processes; a worker that hangs is killed. */
  async stop(graceMs = 15_000): Promise<void> {
    const stopped = this.children.map((child, w) => {
      if (!child.connected) return Promise.resolve();
      const done = this.expect(w, 'stopped', 'stopping').catch(() => undefined);
      child.send({ t: 'stop' });
      return done;
    });
    await Promise.race([Promise.all(stopped), new Promise((r) => setTimeout(r, graceMs).unref())]);
    await Promise.all(this.children.map((c) => reap(c, 2000)));
  }

  private onMessage(w: number, m: FromWorker): void {
    if (m.t === 'heard') this.onHeard(m);
    else if (m.t === 'online') this.online[w] = m.count;
    else if (m.t === 'counters') this.counters[w] = m;
    else if (m.t === 'booted') this.memory.booted[w] = m.memory;
    else if (m.t === 'connected') this.memory.connected[w] = m.memory;
    else if (m.t === 'stopped') this.memory.end[w] = m.memory;
  }

  /** The worker's next message that `pick` maps to a value; a `failed` message or an exit rejects. */
  private reply<T>(w: number, pick: (m: FromWorker) => T | undefined, doing: string): Promise<T> {
    return nextMessage<FromWorker, { value?: T; failure?: string }>(
      this.children[w]!,
      (m) => {
        if (m.t === 'failed') return { failure: m.message };
        const value = pick(m);
        return value === undefined ? undefined : { value };
      },
      `fleet worker ${w + 1} (${doing})`,
    ).then((r) => {
      if (r.failure !== undefined) throw new Error(`fleet worker ${w + 1} failed while ${doing}: ${r.failure}`);
      return r.value!;
    });
  }

  /** The worker's next message of type `t`; a `failed` message or an exit rejects with its reason. */
  private expect<T extends 'booted' | 'connected' | 'memory' | 'stopped'>(
    w: number,
    t: T,
    doing: string,
  ): Promise<ProcessSample> {
    return nextMessage<FromWorker, { memory?: ProcessSample; failure?: string }>(
      this.children[w]!,
      (m) =>
        m.t === t
          ? { memory: (m as { memory: ProcessSample }).memory }
          : m.t === 'failed'
            ? { failure: m.message }
            : undefined,
      `fleet worker ${w + 1} (${doing})`,
    ).then((r) => {
      if (r.failure !== undefined) throw new Error(`fleet worker ${w + 1} failed while ${doing}: ${r.failure}`);
      return r.memory!;
    });
  }
}

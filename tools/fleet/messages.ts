/**
 * What the coordinator and its worker processes say to each other over the IPC channel
 * (structured clone: typed arrays pass as they are). A worker runs one slice of the fleet:
 * speakers (the full device pipeline) or, for the raw-MQTT baseline, plain MQTT clients.
 */
import type { Language } from '../../src/speech/index.ts';
import type { ButtonName } from './scenario.ts';

export type WorkerMode = 'speakers' | 'raw';

export interface WorkerSetup {
  mode: WorkerMode;
  /** The coordinator's clock (clock.ts: clockOffset), so a worker's times and the generator's subtract exactly. */
  clockOffset: number;
  brokerUrl: string;
  /** Device ids are deviceId(prefix, i) for i in [from, to). */
  prefix: string;
  from: number;
  to: number;
  lang: Language;
  runId: string;
  /** The backend's Ed25519 public key (PEM) speakers verify with; null: unsigned, not verified. */
  publicKeyPem: string | null;
  /** Connections opened at once by this worker: more than the broker's listen backlog loses SYNs. */
  connectConcurrency: number;
  /** Per device of the slice (index i is device from + i); null: every device the same. */
  perDevice: SlicePerDevice;
  /** Route r > 0's URL is routeUrls[r - 1]: a scenario's fault proxy in front of the broker (network.ts). */
  routeUrls: string[];
  /** PEM of the CA the broker's certificate must be signed by (mqtts, wss); null: the system's CAs. */
  caPem: string | null;
  /**
   * Local addresses the devices' sockets are bound to, device i of the fleet from
   * sourceAddresses[i % length] (source-addresses.ts); empty: the system chooses.
   */
  sourceAddresses: string[];
}

export interface SlicePerDevice {
  /** Each speaker's language (a scenario's mix); null: `lang`. */
  langs: Language[] | null;
  /** 0: straight to brokerUrl; r: through routeUrls[r - 1]. null: all straight. */
  routes: number[] | null;
  /** MQTT passwords (the username is the device id) for a secure broker; null: anonymous. */
  passwords: string[] | null;
}

export interface ProcessSample {
  rss: number;
  heapUsed: number;
  /** ArrayBuffers outside the heap (voice-pack clips, socket buffers). */
  external: number;
  /** User + system CPU time since the process started. */
  cpuMs: number;
}

/** `setup` loads the voice and answers `booted`; `connect` starts the devices and answers `connected`. */
export type ToWorker =
  | { t: 'setup'; setup: WorkerSetup }
  | { t: 'connect' }
  | { t: 'memory' }
  | { t: 'stop' }
  /** A merchant presses a button on device `index` (of the whole fleet). */
  | { t: 'press'; index: number; button: ButtonName }
  /** A reconnect storm: cut every device's link now (storm.ts). */
  | { t: 'storm' }
  /** Each dropped device's time back online so far. */
  | { t: 'storm-result' };

export interface HeardBatch {
  t: 'heard';
  /** seq[i] was ready to play (or received, for raw clients) at at[i], epoch ms (clock.ts). */
  seq: Float64Array;
  at: Float64Array;
  /** 1 where the payment was heard in a (burst or offline) summary rather than on its own. */
  inSummary: Uint8Array;
}

export interface WorkerCounters {
  /** Redeliveries the device recognised and acked `duplicate` (not heard twice). */
  redelivered: number;
  rejected: number;
  /** Payment ids from another run or tool. */
  stray: number;
  /** Button presses the speakers answered (a replay or summary spoken, a volume change). */
  buttons: number;
  /** The first few rejection reasons, for the report. */
  reasons: string[];
}

export type FromWorker =
  | { t: 'booted'; memory: ProcessSample }
  | { t: 'online'; count: number }
  | { t: 'connected'; memory: ProcessSample }
  | HeardBatch
  | ({ t: 'counters' } & WorkerCounters)
  | { t: 'memory'; memory: ProcessSample }
  | { t: 'stopped'; memory: ProcessSample }
  /** The storm struck: `dropped` links cut at `at` (epoch ms, clock.ts). */
  | { t: 'stormed'; dropped: number; at: number }
  /** Per dropped device, ms from its cut until it was online again (NaN: not yet). */
  | { t: 'storm-result'; reconnectMs: Float64Array }
  | { t: 'failed'; message: string };

/** What a fleet run is asked to do, and its defaults: read by the runner, the report and the CLI. */
import type { Language } from '../../src/speech/index.ts';
import type { Load } from './generator.ts';
import type { WorkerMode } from './messages.ts';
import type { Scenario } from './scenario.ts';

export interface FleetOptions {
  devices: number;
  /** Offered one after another to the same connected fleet, each drained before the next. */
  loads: Load[];
  /** null: start the embedded aedes broker. */
  brokerUrl: string | null;
  /** Worker processes; 'auto': one per core, more if the devices would not fit under the open-file limit. */
  workers: number | 'auto';
  mode: WorkerMode;
  lang: Language;
  /** Sign with a fresh Ed25519 key (speakers verify); false: unsigned, speakers skip verification. */
  signed: boolean;
  /** How long to wait after a load's last payment for the ones still on their way; then they count as lost. */
  drainMs: number;
  prefix: string;
  seed: number;
  /** Connections a worker opens at once. */
  connectConcurrency: number;
  /**
   * A secure broker's data directory (`--data`): the generator logs in as the backend and signs
   * with its key; the speakers are devices in its registry (credentials.ts). null: anonymous.
   */
  dataDir: string | null;
  /** The CA (PEM) an mqtts/wss broker's certificate must be signed by, and where it came from. */
  ca: { pem: string; file: string } | null;
  /** `--scenario`: phases, mixes and trouble (scenario.ts); its phases replace `loads`. */
  scenario: Scenario | null;
  /**
   * `--source-addresses`: local addresses the device connections are spread over, for the
   * ~28,000 ephemeral ports of one (source-addresses.ts). null: chosen for the fleet's size.
   */
  sourceAddresses: string[] | null;
  /** `--reconnect-storm`: ms into the first load when every device link is cut at once (storm.ts); null: none. */
  reconnectStormMs: number | null;
  /**
   * After connecting: wait for the fleet to go quiet, then offer the first load's rate for this
   * long, heard but in no figure (warmup.ts). 0: neither, the first load starts at once.
   */
  warmupMs: number;
}

export const FLEET_DEFAULTS = {
  workers: 'auto',
  mode: 'speakers',
  lang: 'zh-CN',
  signed: true,
  drainMs: 10_000,
  prefix: 'FLEET',
  seed: 1,
  connectConcurrency: 200,
  dataDir: null,
  ca: null,
  scenario: null,
  sourceAddresses: null,
  reconnectStormMs: null,
  warmupMs: 2000,
} as const satisfies Partial<FleetOptions>;

/** Outstanding payments at `rate: 'max'` unless told otherwise. */
export const DEFAULT_WINDOW = 1000;

/**
 * The chaos run's shapes: its options and their defaults, the progress it reports while it runs,
 * and its report (with why payments did not end played). Kept apart from the code so that the
 * run's parts (rig, payments, report) and bench/chaos.ts share them without importing one
 * another.
 */
import type { PaymentHistoryEntry, PaymentStatus, PaymentView } from '../api/client.ts';
import type { ProxyStats } from './proxy.ts';
import type { AnnouncementAudit } from './audit.ts';

export interface ChaosOptions {
  payments: number;
  devices: number;
  /** Payments per second the generator aims for. */
  rate: number;
  /** Mean time a connection through the proxy lives before a random reset. */
  meanFaultMs: number;
  seed: number;
  killBroker: boolean;
  killDevice: boolean;
  /** How long to wait, after the last payment is accepted, for every one to become final. */
  drainMs: number;
  /** Where the run keeps its data; a temporary folder (removed afterwards) when omitted. */
  dataDir?: string;
  onProgress?: (p: ChaosProgress) => void;
}

export interface ChaosProgress {
  phase: 'starting' | 'paying' | 'draining' | 'auditing';
  accepted: number;
  final: number;
  payments: number;
  faults: number;
  brokerKills: number;
  deviceKills: number;
}

export interface ChaosReport {
  payments: number;
  devices: number;
  seed: number;
  statuses: Record<PaymentStatus, number>;
  audio: AnnouncementAudit;
  faults: { injected: ProxyStats['faults']; brokerKills: number; deviceKills: number; apiRetries: number };
  durationMs: number;
  /** Payments accepted per second while the generator ran. */
  acceptedPerSecond: number;
  /** Payments from the first accepted to the last final, per second. */
  finalPerSecond: number;
  /** Every payment final, none expired or rejected, each played one announced exactly once, nothing extra. */
  ok: boolean;
  /** Why payments did not end `played`: counts per speaker and cause, worst first, and a few examples. */
  unplayed: { causes: UnplayedCause[]; examples: UnplayedExample[] };
}

export interface UnplayedCause {
  device: string;
  status: PaymentStatus;
  /** The speaker's reason (rejected), or null. */
  reason: string | null;
  count: number;
}

export interface UnplayedExample {
  payment: PaymentView;
  history: PaymentHistoryEntry[];
}

export const CHAOS_DEFAULTS: Omit<ChaosOptions, 'seed'> = {
  payments: 1000,
  devices: 10,
  rate: 50,
  meanFaultMs: 3000,
  killBroker: true,
  killDevice: true,
  drainMs: 60_000,
};

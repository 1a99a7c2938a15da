/**
 * What the soak's coordinator (run.ts) and its speaker processes (worker.ts) say over IPC. A
 * worker holds a slice of the soak's speakers: the real firmware (composeSpeaker, headless
 * board), each with its own provisioned credentials, connected through the fault proxy.
 */
import type { Language } from '../../src/speech/index.ts';
import type { ProcessSample } from '../fleet/messages.ts';

export interface SoakDevice {
  id: string;
  username: string;
  password: string;
}

export interface SoakWorkerSetup {
  /** The fault proxy's mqtt:// URL. */
  brokerUrl: string;
  devices: SoakDevice[];
  lang: Language;
  /** The backend's Ed25519 public key (PEM): speakers verify every payment, as in the field. */
  publicKeyPem: string;
  rememberedIds: number;
  connectConcurrency: number;
}

export type ToSoakWorker = { t: 'setup'; setup: SoakWorkerSetup } | { t: 'memory' } | { t: 'stop' };

export type FromSoakWorker =
  | { t: 'ready'; memory: ProcessSample }
  /** Payment ids announced on their own, and those heard in a summary, since the last batch. */
  | { t: 'heard'; announced: string[]; summarized: string[] }
  | { t: 'counters'; online: number; redelivered: number; rejected: number; reasons: string[] }
  | { t: 'memory'; memory: ProcessSample }
  | { t: 'stopped' }
  | { t: 'failed'; message: string };

/**
 * Entry point of a soak speaker process (forked with tsx and --expose-gc through the fleet's
 * forkEntry). Boots its slice of real speakers — the whole firmware pipeline on the headless
 * board, audio ending in the fleet's ReadySink — and reports what they announced, a few
 * counters, and its own memory after a full GC when asked.
 */
import { createPublicKey } from 'node:crypto';
import { composeSpeaker } from '../../device/boot/compose.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import type { Speaker } from '../../device/speaker.ts';
import { Trust } from '../../device/trust.ts';
import { createVoice } from '../../src/voice/index.ts';
import { forEachLimited } from '../fleet/limited.ts';
import { createReadySink } from '../fleet/ready-sink.ts';
import { sampleProcess } from '../fleet/sample.ts';
import type { FromSoakWorker, SoakWorkerSetup, ToSoakWorker } from './messages.ts';
import { nodeVerifyingKey } from '../../src/protocol/signing-node.ts';

const send = (m: FromSoakWorker) => process.send?.(m);
/** Heard ids go to the coordinator in batches, not one IPC message per payment. */
const FLUSH_MS = 200;
const MAX_REASONS = 5;

const speakers: Speaker[] = [];
let announced: string[] = [];
let summarized: string[] = [];
const counters = { online: 0, redelivered: 0, rejected: 0, reasons: [] as string[] };
let changed = false;

function flush(): void {
  if (announced.length > 0 || summarized.length > 0) {
    send({ t: 'heard', announced, summarized });
    announced = [];
    summarized = [];
  }
  if (changed) {
    send({ t: 'counters', ...counters, reasons: [...counters.reasons] });
    changed = false;
  }
}
const timer = setInterval(flush, FLUSH_MS);

function observe(e: SpeakerEvent): void {
  switch (e.event) {
    case 'announced':
      announced.push(e.id);
      return;
    case 'summarized':
      summarized.push(...e.ids);
      return;
    case 'online':
      counters.online++;
      break;
    case 'offline':
      counters.online--;
      break;
    case 'duplicate':
      counters.redelivered++;
      break;
    case 'rejected':
      counters.rejected++;
      if (counters.reasons.length < MAX_REASONS) counters.reasons.push(`${e.reason}: ${e.detail}`);
      break;
    default:
      return;
  }
  changed = true;
}

async function setUp(setup: SoakWorkerSetup): Promise<void> {
  const voice = await createVoice('clips', { langs: [setup.lang] });
  const trust = new Trust({ publicKey: nodeVerifyingKey(createPublicKey(setup.publicKeyPem)) });
  await forEachLimited(setup.devices.length, setup.connectConcurrency, async (i) => {
    const { id, username, password } = setup.devices[i]!;
    const sink = createReadySink();
    const { speaker } = await composeSpeaker({
      id,
      broker: setup.brokerUrl,
      lang: setup.lang,
      board: { kind: 'headless', audio: sink },
      voice: { kind: 'shared', voice },
      trust,
      credentials: { username, password },
      // As the chaos run: every payment announced on its own (no burst or offline summaries),
      // so each has an announcement to count; no status prompts.
      settings: { prompts: false, burstDepth: 100_000, staleAfterMs: 3_600_000, rememberedIds: setup.rememberedIds },
    });
    speaker.on('event', (e: SpeakerEvent) => {
      observe(e);
      // The sink keeps a time per label until taken: take it, so nothing piles up.
      if (e.event === 'announced') sink.take(e.id);
      else if (e.event === 'summarized') sink.take(`summary-${e.scope}`);
    });
    speakers.push(speaker);
    await speaker.start();
  });
  send({ t: 'ready', memory: sampleProcess() });
}

async function stop(): Promise<void> {
  await Promise.all(speakers.map((s) => s.stop().catch(() => undefined)));
  clearInterval(timer);
  flush();
  send({ t: 'stopped' });
  process.disconnect?.();
}

const fail = (err: unknown) => send({ t: 'failed', message: (err as Error).stack ?? String(err) });

process.on('message', (m: ToSoakWorker) => {
  if (m.t === 'setup') setUp(m.setup).catch(fail);
  else if (m.t === 'memory') send({ t: 'memory', memory: sampleProcess() });
  else if (m.t === 'stop') stop().catch(fail);
});
// The coordinator went away: nothing left to report to.
process.on('disconnect', () => setTimeout(() => process.exit(0), 100).unref());

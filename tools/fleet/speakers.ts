/**
 * A worker's slice of the fleet: real Speakers (device/speaker.ts) on headless boards, the whole
 * firmware pipeline — parse, verify, dedupe, store, phrase, render, volume — with the audio
 * ending in a ReadySink instead of a loudspeaker. Every speaker of the process shares one voice
 * (one copy of the voice pack) and one Trust, as every box's flash holds the same clips and key.
 */
import { createPublicKey } from 'node:crypto';
import type { Speaker } from '../../device/speaker.ts';
import { composeSpeaker } from '../../device/boot/compose.ts';
import { Trust } from '../../device/trust.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import { createVoice, type Voice } from '../../src/voice/index.ts';
import { deviceId } from './ids.ts';
import { forEachLimited } from './limited.ts';
import { createReadySink, type ReadySink } from './ready-sink.ts';
import type { HeardReporter } from './reporter.ts';
import type { WorkerSetup } from './messages.ts';
import { nodeVerifyingKey } from '../../src/protocol/signing-node.ts';

export interface Slice {
  /** Resolves once every device of the slice is connected and subscribed. */
  start(onOnline: (count: number) => void): Promise<void>;
  stop(): Promise<void>;
}

/** Loads the voice now, so that a worker's memory baseline already includes the voice pack. */
export async function speakerSlice(setup: WorkerSetup, reporter: HeardReporter): Promise<Slice> {
  const voice = await createVoice('clips', { langs: [setup.lang] });
  const trust = new Trust({
    publicKey: setup.publicKeyPem ? nodeVerifyingKey(createPublicKey(setup.publicKeyPem)) : null,
  });
  const speakers: Speaker[] = [];
  return {
    async start(onOnline) {
      await forEachLimited(setup.to - setup.from, setup.connectConcurrency, async (i) => {
        const speaker = await fleetSpeaker(deviceId(setup.prefix, setup.from + i), setup, voice, trust, reporter);
        speakers.push(speaker);
        await speaker.start();
        onOnline(speakers.length);
      });
    },
    async stop() {
      await Promise.all(speakers.map((s) => s.stop()));
    },
  };
}

async function fleetSpeaker(
  id: string,
  setup: WorkerSetup,
  voice: Voice,
  trust: Trust,
  reporter: HeardReporter,
): Promise<Speaker> {
  const sink = createReadySink();
  const { speaker } = await composeSpeaker({
    id,
    broker: setup.brokerUrl,
    lang: setup.lang,
    board: { kind: 'headless', audio: sink },
    voice: { kind: 'shared', voice },
    trust,
    // No power-on or network prompts: 10,000 of them at start would only measure themselves.
    settings: { prompts: false },
  });
  speaker.on('event', (e) => observe(e, sink, reporter));
  return speaker;
}

function observe(e: SpeakerEvent, sink: ReadySink, reporter: HeardReporter): void {
  switch (e.event) {
    case 'announced':
      return reporter.heard(e.id, sink.take(e.id) ?? NaN);
    case 'summarized': {
      const at = sink.take(`summary-${e.scope}`) ?? NaN;
      for (const id of e.ids) reporter.heard(id, at, true);
      return;
    }
    case 'duplicate':
      return reporter.count('redelivered');
    case 'rejected':
      return reporter.count('rejected', `${e.reason}: ${e.detail}`);
  }
}

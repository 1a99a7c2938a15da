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
import type { ButtonName } from './scenario.ts';
import type { HeadlessBoard } from '../../device/boards/headless.ts';
import type { ButtonEmitter } from '../../device/drivers/simulated.ts';
import { nodeVerifyingKey } from '../../src/protocol/signing-node.ts';
import { Links } from './links.ts';
import { lightTransport } from './light-mqtt/transport.ts';
import { sourceAddressOf } from './source-addresses.ts';

export interface Slice {
  /** Resolves once every device of the slice is connected and subscribed. */
  start(onOnline: (count: number) => void): Promise<void>;
  stop(): Promise<void>;
  /** A button press on device `index` of the fleet (speakers only). */
  press?(index: number, button: ButtonName): void;
  /** The devices' links: cut in a reconnect storm, and watched until they are back. */
  readonly links: Links;
}

/** Where device i of the slice connects: the broker, or its group's fault proxy (network.ts). */
export function routeUrl(setup: WorkerSetup, i: number): string {
  const route = setup.perDevice.routes?.[i] ?? 0;
  return route === 0 ? setup.brokerUrl : setup.routeUrls[route - 1]!;
}

/** Loads the voice now, so that a worker's memory baseline already includes the voice pack. */
export async function speakerSlice(setup: WorkerSetup, reporter: HeardReporter): Promise<Slice> {
  const langs = setup.perDevice.langs;
  const voice = await createVoice('clips', { langs: langs ? [...new Set(langs)] : [setup.lang] });
  const trust = new Trust({
    publicKey: setup.publicKeyPem ? nodeVerifyingKey(createPublicKey(setup.publicKeyPem)) : null,
  });
  const speakers: Speaker[] = [];
  const buttons = new Map<number, ButtonEmitter>();
  const links = new Links(setup.to - setup.from);
  return {
    links,
    async start(onOnline) {
      await forEachLimited(setup.to - setup.from, setup.connectConcurrency, async (i) => {
        const { speaker, board } = await fleetSpeaker(i, setup, voice, trust, reporter, links);
        speakers.push(speaker);
        buttons.set(setup.from + i, board.buttons);
        await speaker.start();
        onOnline(speakers.length);
      });
    },
    async stop() {
      // 2,000 at a time: 100,000 goodbyes at once (each a retained state, then DISCONNECT) once
      // overflowed the embedded broker's call stack (since fixed in the broker), and a burst that
      // size still keeps its cores busy for nothing. Not fewer at a time:
      // each goodbye may wait 2 s for its PUBACK, and the pool gives a worker 15 s to stop.
      await forEachLimited(speakers.length, 2000, (i) => speakers[i]!.stop());
    },
    press(index, button) {
      buttons.get(index)?.press(button);
    },
  };
}

async function fleetSpeaker(
  i: number,
  setup: WorkerSetup,
  voice: Voice,
  trust: Trust,
  reporter: HeardReporter,
  links: Links,
): Promise<{ speaker: Speaker; board: HeadlessBoard<ReadySink> }> {
  const id = deviceId(setup.prefix, setup.from + i);
  const sink = createReadySink();
  const password = setup.perDevice.passwords?.[i];
  const { speaker, board } = await composeSpeaker({
    id,
    broker: routeUrl(setup, i),
    lang: setup.perDevice.langs?.[i] ?? setup.lang,
    board: { kind: 'headless', audio: sink },
    voice: { kind: 'shared', voice },
    trust,
    credentials: password === undefined ? null : { username: id, password },
    ca: setup.caPem,
    transport: speakerTransport(i, sourceAddressOf(setup.sourceAddresses, setup.from + i), links),
    // No power-on or network prompts: 10,000 of them at start would only measure themselves.
    settings: { prompts: false },
  });
  speaker.on('event', (e) => (e.event === 'online' ? links.online(i) : observe(e, sink, reporter)));
  // The headless board's buttons are pressed from code (device/drivers/simulated.ts).
  return { speaker, board: board as HeadlessBoard<ReadySink> };
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
    case 'spoke':
      return e.what === 'replay' || e.what === 'summary' ? reporter.count('buttons') : undefined;
    case 'volume':
      return reporter.count('buttons');
  }
}

/**
 * The fleet's speakers talk MQTT through the light client (light-mqtt/client.ts: a few KB per
 * speaker instead of MQTT.js's ~13); PAYSPEAKER_FLEET_MQTT=mqttjs keeps MQTT.js, to compare.
 */
function speakerTransport(i: number, localAddress: string | null, links: Links) {
  const mqttjs = links.transport(i, localAddress);
  if (process.env.PAYSPEAKER_FLEET_MQTT === 'mqttjs') return mqttjs;
  return lightTransport(localAddress, (client) => links.track(i, client), mqttjs);
}

/**
 * The one composition root: every speaker — the installed firmware (boot/main.ts), `payspeaker
 * device` and `demo`, and each speaker of a fleet — is put together here, from a board kind, a
 * voice kind and settings. Outside tests and two
 * micro-benchmarks (bench/announce.ts, bench/nagle.ts: one bare speaker each) nothing else
 * builds a Speaker, so a board, a voice or a setting added here reaches all three.
 */
import { silentLogger, type Logger } from '../../src/log.ts';
import { tlsClientOptions } from '../../src/mqtt/connect.ts';
import type { Language } from '../../src/speech/index.ts';
import { createVoice, type CreateVoiceOptions, type Voice, type VoiceEngineName } from '../../src/voice/index.ts';
import type { Board } from '../board.ts';
import type { FirmwareSettings } from '../context.ts';
import { Speaker } from '../speaker.ts';
import { OtaExtension } from '../extensions/ota.ts';
import type { Trust } from '../trust.ts';
import type { MqttTransport } from '../connection.ts';
import { openBoard, type BoardKind, type BoardSetup } from './boards.ts';
import { loadImageVoice } from './voice.ts';

/** How the speaker's voice is made: by engine, from an installed image, or one already loaded and shared. */
export type VoiceRecipe =
  | { kind: VoiceEngineName; gapMs?: number; onProgress?: CreateVoiceOptions['onProgress'] }
  /** The voice packs an installed firmware image carries (a Pi never records its own). */
  | { kind: 'image'; dir: string }
  /** A fleet's speakers share one voice, as every box's flash holds the same clips. */
  | { kind: 'shared'; voice: Voice };

export interface SpeakerRecipe {
  id: string;
  broker: string;
  lang: Language;
  board: { kind: BoardKind } & Omit<BoardSetup, 'device' | 'log'>;
  voice: VoiceRecipe;
  /** Whose signatures make a payment real. */
  trust: Trust;
  settings?: Partial<FirmwareSettings>;
  /** MQTT username and password (the device config's); absent or null: anonymous (--insecure). */
  credentials?: { username: string; password: string } | null;
  /** PEM of the CA the broker's certificate must be signed by (mqtts://, wss://); null: the system's CAs. */
  ca?: string | null;
  /** How the MQTT socket is opened; default MQTT.js's own (a fleet binds source addresses). */
  transport?: MqttTransport;
  /** Reported in the retained state; default the package version (an installed image passes its own). */
  firmwareVersion?: string;
  log?: Logger;
}

export interface ComposedSpeaker {
  speaker: Speaker;
  board: Board;
}

/** Makes the voice and opens the board; the speaker is built, not yet booted. */
export async function composeSpeaker(recipe: SpeakerRecipe): Promise<ComposedSpeaker> {
  const voice = await makeVoice(recipe);
  const { kind, ...setup } = recipe.board;
  const board = await openBoard(kind, { ...setup, device: recipe.id, log: recipe.log ?? silentLogger });
  const mqtt = { ...recipe.credentials, ...tlsClientOptions(recipe.broker, recipe.ca) };
  const speaker = new Speaker({
    id: recipe.id,
    brokerUrl: recipe.broker,
    lang: recipe.lang,
    board,
    voice,
    log: recipe.log,
    settings: recipe.settings,
    trust: recipe.trust,
    firmwareVersion: recipe.firmwareVersion,
    platformExtensions: (ctx) => [new OtaExtension(ctx)],
    transport: recipe.transport,
    ...(Object.keys(mqtt).length > 0 ? { mqtt } : {}),
  });
  return { speaker, board };
}

function makeVoice({ voice, lang, log }: SpeakerRecipe): Promise<Voice> {
  switch (voice.kind) {
    case 'shared':
      return Promise.resolve(voice.voice);
    case 'image':
      return loadImageVoice(voice.dir, lang, log ?? silentLogger);
    default:
      return createVoice(voice.kind, { langs: [lang], log, gapMs: voice.gapMs, onProgress: voice.onProgress });
  }
}

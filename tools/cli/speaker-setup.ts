/** A speaker on the laptop board, through the firmware's composition root: shared by `device` and `demo`. */
import { deviceNvsFile } from '../../src/config.ts';
import type { Speaker } from '../../device/speaker.ts';
import type { LaptopBoard } from '../../device/boards/laptop.ts';
import { composeSpeaker, type ComposedSpeaker } from '../../device/boot/compose.ts';
import { parseAudioSpec } from '../../device/drivers/audio/index.ts';
import { VOICE_ENGINES, type VoiceEngineName } from '../../src/voice/index.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import type { FirmwareSettings } from '../../device/context.ts';
import type { Language } from '../../src/speech/index.ts';
import type { Logger } from '../../src/log.ts';
import { CliError } from './exit-codes.ts';
import type { Trust } from '../../device/trust.ts';

export interface SpeakerSetup {
  id: string;
  broker: string;
  lang: Language;
  audio: string;
  voiceEngine: string;
  dataDir: string;
  /** MQTT username/password from the device config; null to connect anonymously (--insecure). */
  credentials: { username: string; password: string } | null;
  /** Whose signatures make a payment real. */
  trust: Trust;
  /** PEM of the CA the broker's certificate must be signed by (mqtts://, wss://); null: the system's CAs. */
  ca?: string | null;
  /** Firmware tuning (offline age, burst depth) and the silence between clips. */
  settings?: Partial<FirmwareSettings>;
  clipGapMs?: number;
  log: Logger;
  /** Panel and keys: only on a terminal, never with --json. */
  interactive: boolean;
  onQuit?: () => void;
}

export interface RunningSpeaker {
  speaker: Speaker;
  board: LaptopBoard;
}

/** On a terminal, one self-updating line while a voice pack is recorded on first use. */
function progressLine(): ((done: number, total: number, key: string, lang: Language) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total, _key, lang) => {
    process.stderr.write(`\rrecording the ${lang} voice pack: ${done}/${total} clips${done === total ? '\n' : ''}`);
  };
}

function isVoiceEngine(x: string): x is VoiceEngineName {
  return (VOICE_ENGINES as readonly string[]).includes(x);
}

/** Boots the speaker (it keeps connecting in the background) and returns at once. */
export async function bootSpeaker(setup: SpeakerSetup, onEvent: (e: SpeakerEvent) => void): Promise<RunningSpeaker> {
  let spec;
  try {
    spec = parseAudioSpec(setup.audio);
  } catch (err) {
    throw new CliError(`--audio: ${(err as Error).message}`);
  }
  if (!isVoiceEngine(setup.voiceEngine)) {
    throw new CliError(
      `--voice-engine ${JSON.stringify(setup.voiceEngine)} is not an engine: use one of ${VOICE_ENGINES.join(', ')}`,
    );
  }
  let composed: ComposedSpeaker;
  try {
    composed = await composeSpeaker({
      id: setup.id,
      broker: setup.broker,
      lang: setup.lang,
      board: {
        kind: 'laptop',
        audio: spec,
        nvsFile: deviceNvsFile(setup.dataDir, setup.id),
        interactive: setup.interactive,
        onQuit: setup.onQuit,
      },
      voice: { kind: setup.voiceEngine, gapMs: setup.clipGapMs, onProgress: progressLine() },
      trust: setup.trust,
      settings: setup.settings,
      credentials: setup.credentials,
      ca: setup.ca,
      log: setup.log,
    });
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
  const { speaker } = composed;
  const board = composed.board as LaptopBoard; // board kind 'laptop' above: its panel prints our lines
  speaker.on('event', onEvent);
  setup.log.info({ broker: setup.broker }, 'connecting to the broker');
  try {
    await speaker.boot();
  } catch (err) {
    // Give the terminal back (raw-mode keyboard) and the files, or the process hangs on.
    await speaker.stop().catch(() => undefined);
    await board.close().catch(() => undefined);
    throw new CliError(`device ${setup.id} could not start: ${(err as Error).message}`, 1);
  }
  return { speaker, board };
}

/** Wires a laptop board, the voice and a Speaker together: shared by `device` and `demo`. */
import { Speaker } from '../../device/speaker.ts';
import { createLaptopBoard } from '../../device/boards/laptop.ts';
import { createEspeakEngine } from '../audio/tts/espeak.ts';
import { parseAudioSpec } from '../audio/sinks/index.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import type { Language } from '../speech/index.ts';
import type { Logger } from '../log.ts';
import { CliError } from './exit-codes.ts';

export interface SpeakerSetup {
  id: string;
  broker: string;
  lang: Language;
  audio: string;
  log: Logger;
}

export async function startSpeaker(setup: SpeakerSetup, onEvent: (e: SpeakerEvent) => void): Promise<Speaker> {
  let spec;
  try {
    spec = parseAudioSpec(setup.audio);
  } catch (err) {
    throw new CliError(`--audio: ${(err as Error).message}`);
  }
  const board = await createLaptopBoard({ audio: spec, log: setup.log });
  const speaker = new Speaker({ id: setup.id, brokerUrl: setup.broker, lang: setup.lang, board, voice: createEspeakEngine(), log: setup.log });
  speaker.on('event', onEvent);
  setup.log.info({ broker: setup.broker }, 'connecting to the broker');
  await speaker.start();
  return speaker;
}

/**
 * The installed firmware's voice: the voice packs the image carries under voices/<lang>/ (recorded
 * when the image was built: a Pi never records its own), joined as clips like every box does.
 * A clip a pack lacks falls back to eSpeak when the image carries it (node_modules/ beside
 * firmware.cjs, pure wasm: no native build); an image built without it says so instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createEspeakEngine, ESPEAK_PACKAGE } from '../../src/audio/tts/espeak.ts';
import type { TtsEngine } from '../../src/audio/tts/engine.ts';
import type { Logger } from '../../src/log.ts';
import type { Language } from '../../src/speech/index.ts';
import { createClipVoice, loadVoicePack, type Voice, type VoicePack } from '../../src/voice/index.ts';

export const VOICES_DIR = 'voices';
/** Where the image keeps eSpeak, relative to the image root: node's own lookup finds it from firmware.cjs. */
export const ESPEAK_DIR = `node_modules/${ESPEAK_PACKAGE}`;

export const voicePackDir = (imageDir: string, lang: Language): string => path.join(imageDir, VOICES_DIR, lang);

/** No TTS in this image: a sentence without clips cannot be said, and the log says why. */
function missingEngine(imageDir: string): TtsEngine {
  return {
    name: 'none',
    synthesize: (text, lang) =>
      Promise.reject(
        new Error(
          `cannot say "${text}" (${lang}): the voice pack has no clip for it and the image ${imageDir} carries no eSpeak; build the image without --no-espeak`,
        ),
      ),
  };
}

export async function loadImageVoice(imageDir: string, lang: Language, log: Logger): Promise<Voice> {
  const hasEspeak = fs.existsSync(path.join(imageDir, ...ESPEAK_DIR.split('/'), 'package.json'));
  const fallback = hasEspeak ? createEspeakEngine() : missingEngine(imageDir);
  const packs: Partial<Record<Language, VoicePack>> = {};
  const dir = voicePackDir(imageDir, lang);
  try {
    packs[lang] = await loadVoicePack(dir);
    log.info(
      { lang, clips: packs[lang].clips.size, fallback: fallback.name },
      `${lang} voice pack loaded from the image`,
    );
  } catch (err) {
    log.error(
      { lang, dir, err: (err as Error).message },
      `no usable ${lang} voice pack in the image (${(err as Error).message}): every sentence goes to ${fallback.name}; build the image with --lang ${lang}`,
    );
  }
  return createClipVoice({ packs, fallback, log });
}

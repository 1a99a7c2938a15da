/**
 * How real boxes talk: prerecorded clips from flash, joined with a short gap. Nothing is
 * synthesised on the payment path, so an announcement costs a memory copy, not a TTS call.
 * When a clip is missing (an open-set currency name, a pack from an older vocabulary) the whole
 * sentence goes to the fallback engine instead, as Indian boxes fall back to English: a sentence
 * half in clips and half in TTS would sound like two speakers.
 */
import type { Pcm } from '../audio/pcm.ts';
import { applyVolume, MAX_VOLUME } from '../audio/volume.ts';
import type { TtsEngine } from '../audio/tts/engine.ts';
import { silentLogger, type Logger } from '../logger.ts';
import type { Language, Utterance } from '../speech/index.ts';
import type { VoicePack } from './pack/load.ts';
import type { Voice } from './voice.ts';
import { createTtsVoice } from './tts-voice.ts';

export const DEFAULT_GAP_MS = 40;

export interface ClipVoiceOptions {
  packs: Partial<Record<Language, VoicePack>>;
  /** Silence between clips; 40 ms sounds like one sentence yet keeps the words apart. */
  gapMs?: number;
  fallback: TtsEngine;
  log?: Logger;
}

export function createClipVoice(opts: ClipVoiceOptions): Voice {
  const gapMs = opts.gapMs ?? DEFAULT_GAP_MS;
  if (!Number.isFinite(gapMs) || gapMs < 0) throw new RangeError(`gapMs must be a finite number >= 0, got ${gapMs}`);
  const log = opts.log ?? silentLogger;
  const { fallback } = opts;
  // Once per missing clip per language: a fleet paid in the same odd currency all day should not
  // drown the log, but each new gap in a pack is worth one line.
  const warned = new Set<string>();

  function warnOnce(lang: Language, keys: string[], what: (fresh: string[]) => string): void {
    const fresh = keys.filter((k) => !warned.has(`${lang}\u0000${k}`));
    if (fresh.length === 0) return;
    for (const k of fresh) warned.add(`${lang}\u0000${k}`);
    log.warn({ lang, missing: fresh }, `${what(fresh)}: speaking whole sentences with ${fallback.name} instead`);
  }

  // Clips scaled to a volume level, made on first use: an announcement is then a memory copy at
  // any volume (scaling every sample of every announcement was half a fleet speaker's CPU).
  // Scaling clips one by one gives the same samples as scaling the joined sentence: gaps are 0.
  const scaled = new Map<string, Pcm>();
  const clipAt = (pack: VoicePack, lang: Language, key: string, volume: number): Pcm | undefined => {
    const clip = pack.clips.get(key);
    if (clip === undefined || volume === MAX_VOLUME) return clip;
    const id = `${lang}\u0000${volume}\u0000${key}`;
    let pcm = scaled.get(id);
    if (!pcm) scaled.set(id, (pcm = applyVolume(clip, volume)));
    return pcm;
  };
  const tts = createTtsVoice(fallback);
  const synthesize = (u: Utterance, lang: Language, volume: number) => tts.render(u, lang, volume);

  return {
    name: 'clips',
    async render(u, lang, volume = MAX_VOLUME) {
      const pack = opts.packs[lang];
      if (!pack) {
        warnOnce(lang, [''], () => `there is no ${lang} voice pack`);
        return synthesize(u, lang, volume);
      }
      // A sentence the language never split into clips can only be said by TTS.
      if (u.clips.length === 0) return synthesize(u, lang, volume);
      const parts = u.clips.map((key) => clipAt(pack, lang, key, volume));
      const missing = u.clips.filter((_, i) => parts[i] === undefined);
      if (missing.length === 0) return joinWithGaps(parts as Pcm[], pack.sampleRate, gapMs);
      warnOnce(
        lang,
        [...new Set(missing)],
        (keys) => `the ${lang} voice pack in ${pack.dir} has no clip ${keys.map((k) => JSON.stringify(k)).join(', ')}`,
      );
      return synthesize(u, lang, volume);
    },
  };
}

/** clip, gap, clip, gap, clip: one allocation, no gap at either end. */
export function joinWithGaps(parts: Pcm[], sampleRate: number, gapMs: number): Pcm {
  const gap = Math.round((gapMs * sampleRate) / 1000);
  let total = gap * Math.max(0, parts.length - 1);
  for (const p of parts) total += p.samples.length;
  const samples = new Int16Array(total); // zero-filled: the gaps are already silence
  let at = 0;
  for (const p of parts) {
    samples.set(p.samples, at);
    at += p.samples.length + gap;
  }
  return { sampleRate, samples };
}

/**
 * A voice turns an utterance into sound. Real boxes join prerecorded clips from flash
 * (clip-voice.ts); cloud-TTS boxes synthesise the whole sentence (tts-voice.ts). The device's
 * announcer only sees this interface, so it cannot tell which one its board gave it.
 */
import type { Pcm } from '../audio/pcm.ts';
import type { Language, Utterance } from '../speech/index.ts';

export interface Voice {
  readonly name: string;
  /**
   * The utterance as PCM at `volume` (0-10, src/audio/volume.ts; default 10, full scale). The
   * voice applies it because it can do so cheaply: a clip voice keeps its clips scaled per level.
   */
  render(u: Utterance, lang: Language, volume?: number): Promise<Pcm>;
}

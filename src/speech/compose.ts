/**
 * Builds an utterance's text and its clip keys from the same calls, so the sentence a TTS engine
 * reads and the clips a voice pack joins cannot drift apart.
 */
import type { Clip, Utterance } from './types.ts';

/** How a language writes clips into a sentence and names them in a voice pack. */
export interface ClipStyle {
  /** Between two clips: ' ' for English and Hindi, '' for Chinese (written without spaces). */
  readonly space: string;
  /** The voice-pack key for a clip's text (unique per language, safe as a map key). */
  key(text: string): string;
}

export class Composer {
  #text = '';
  readonly #clips: string[] = [];

  constructor(private readonly style: ClipStyle) {}

  /** One prerecorded clip, written after `joiner` (the word space unless told) unless it opens the sentence. */
  clip(text: string, joiner: string = this.style.space): this {
    if (this.#text !== '') this.#text += joiner;
    this.#text += text;
    this.#clips.push(this.style.key(text));
    return this;
  }

  /** Space-separated words, one clip each: "एक सौ तेईस" → एक, सौ, तेईस. */
  words(text: string): this {
    for (const word of text.split(' ')) this.clip(word);
    return this;
  }

  /**
   * Punctuation: written into the text, where a TTS engine hears a pause, but never a clip (a
   * voice pack pauses between clips anyway).
   */
  pause(mark: string): this {
    this.#text += mark;
    return this;
  }

  /** Several items, each rendered by `say`, with a pause mark between them ("十元，五美元"). */
  list<T>(items: readonly T[], mark: string, say: (out: this, item: T) => unknown): this {
    items.forEach((item, i) => {
      if (i > 0) this.pause(mark);
      say(this, item);
    });
    return this;
  }

  done(): Utterance {
    return { text: this.#text, clips: [...this.#clips] };
  }
}

/** A language's vocabulary from clip texts: one clip per key, first spelling wins, order kept. */
export function clipsOf(style: ClipStyle, texts: Iterable<string>): Clip[] {
  const byKey = new Map<string, Clip>();
  for (const text of texts) {
    const key = style.key(text);
    if (!byKey.has(key)) byKey.set(key, { key, text });
  }
  return [...byKey.values()];
}

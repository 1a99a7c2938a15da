/** Saying something that is not a payment (prompts, replay, summaries) and reporting it. */
import { utter, type Message, type Prompt } from '../src/speech/index.ts';
import type { Spoken } from './announcer.ts';
import type { FirmwareContext } from './context.ts';

export type SpokenWhat = Prompt | 'replay' | 'summary' | 'battery';

export async function speak(
  ctx: FirmwareContext,
  what: SpokenWhat,
  message: Message,
  volume?: number,
): Promise<Spoken> {
  try {
    const spoken = await ctx.announcer.say(what, () => utter(message, ctx.lang), { volume });
    ctx.emit({ event: 'spoke', device: ctx.id, what, text: spoken.utterance.text });
    return spoken;
  } finally {
    // The queue is one shorter: redraw it, or the display keeps "queue 1" after a boot prompt.
    ctx.show();
  }
}

/** Status prompts can be switched off (fleets); failures to play them are logged, never fatal. */
export function prompt(ctx: FirmwareContext, p: Prompt, volume?: number): void {
  if (!ctx.settings.prompts) return;
  speak(ctx, p, { type: 'prompt', prompt: p }, volume).catch((err: Error) =>
    ctx.log.warn({ prompt: p, err: err.message }, 'could not play a status prompt'),
  );
}

/**
 * Starts the real firmware in the tab: the browser board, the clip voice fed from the broker's
 * voice packs over HTTP, and the Speaker from device/. (Being built in issue 13.)
 */
import type { BrowserSpeakerOptions, SpeakerView } from './types.ts';

export async function startBrowserSpeaker(opts: BrowserSpeakerOptions): Promise<SpeakerView> {
  throw new Error(`the browser speaker ${opts.id} cannot start yet: console/speaker/run.ts is not built`);
}

/**
 * The composition root for a speaker in a browser tab: the browser board (WebAudio, IndexedDB,
 * on-screen buttons), the clip voice fed by the broker over HTTP, the backend's key through
 * WebCrypto, MQTT over the broker's WebSocket listener. The Speaker itself is the same class every
 * Node speaker runs (compose.ts builds those); only what the platform must supply differs, and
 * OTA is left out: a tab has no firmware slots to install into.
 */
import type { Logger } from '../../src/logger.ts';
import type { Language } from '../../src/speech/index.ts';
import { createBrowserBoard, type BrowserBoard, type BrowserBoardOptions } from '../boards/browser.ts';
import { webVerifyingKey } from '../drivers/browser/verifying-key.ts';
import { Speaker } from '../speaker.ts';
import { Trust } from '../trust.ts';
import { loadHttpVoice } from './voice-http.ts';

export interface BrowserSpeakerRecipe {
  id: string;
  /** ws:// or wss:// URL of the broker's MQTT WebSocket listener. */
  mqttUrl: string;
  /** The broker's HTTP origin (voice packs). */
  apiUrl: string;
  lang: Language;
  /** The device's own MQTT identity (secure broker); null: anonymous (--insecure broker). */
  credentials: { username: string; password: string } | null;
  /** The backend's public key (SPKI PEM); null: signatures are not checked (--insecure). */
  backendPublicKeyPem: string | null;
  board?: Omit<BrowserBoardOptions, 'device'>;
  log?: Logger;
  onVoiceProgress?: (done: number, total: number) => void;
}

export interface ComposedBrowserSpeaker {
  speaker: Speaker;
  board: BrowserBoard;
}

/** Loads the voice and the key, opens the board; the speaker is built, not yet booted. */
export async function composeBrowserSpeaker(recipe: BrowserSpeakerRecipe): Promise<ComposedBrowserSpeaker> {
  const [voice, publicKey] = await Promise.all([
    loadHttpVoice({
      apiUrl: recipe.apiUrl,
      lang: recipe.lang,
      credentials: recipe.credentials,
      log: recipe.log,
      onProgress: recipe.onVoiceProgress,
    }),
    recipe.backendPublicKeyPem === null ? null : webVerifyingKey(recipe.backendPublicKeyPem),
  ]);
  const board = await createBrowserBoard({ ...recipe.board, device: recipe.id });
  const speaker = new Speaker({
    id: recipe.id,
    brokerUrl: recipe.mqttUrl,
    lang: recipe.lang,
    board,
    voice,
    log: recipe.log,
    trust: new Trust({ publicKey }),
    ...(recipe.credentials ? { mqtt: { ...recipe.credentials } } : {}),
  });
  return { speaker, board };
}

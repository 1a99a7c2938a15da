/**
 * Starts the real firmware in the tab (device/boot/compose-browser.ts: the Speaker on the browser
 * board, its voice from the broker) and turns what it does into the snapshots the page draws:
 * the panel's LED and display, and a transcript of every prompt and announcement, from the
 * speaker's own events. The page only reads snapshots and presses buttons (types.ts).
 */
import pino from 'pino';
import { composeBrowserSpeaker } from '../../device/boot/compose-browser.ts';
import type { SpeakerEvent } from '../../device/events.ts';
import { formatAmount } from '../../src/protocol/money.ts';
import { isLanguage, LANGUAGES } from '../../src/speech/index.ts';
import { signalBars, type PanelState } from '../../device/drivers/browser/panel.ts';
import { VERSION } from '../../src/version.ts';
import type { BrowserSpeakerOptions, PlayedClip, SpeakerSnapshot, SpeakerView, TranscriptLine } from './types.ts';

/** Enough to scroll back through a busy afternoon without the tab growing all day. */
const TRANSCRIPT_LINES = 200;

export async function startBrowserSpeaker(opts: BrowserSpeakerOptions): Promise<SpeakerView> {
  if (!isLanguage(opts.lang))
    throw new Error(`"${opts.lang}" is not a language this firmware speaks: use one of ${LANGUAGES.join(', ')}`);
  // pino's browser build: lines go to the tab's console, where a developer looks for them.
  const log = pino({ name: opts.id, level: 'info', browser: { asObject: false } });
  const { speaker, board } = await composeBrowserSpeaker({
    id: opts.id,
    mqttUrl: opts.mqttUrl,
    apiUrl: opts.apiUrl,
    lang: opts.lang,
    credentials: opts.credentials,
    backendPublicKeyPem: opts.backendPublicKeyPem,
    log,
  });

  const transcript: TranscriptLine[] = [];
  let lastAmount = '';
  let error: string | null = null;
  const listeners = new Set<(s: SpeakerSnapshot) => void>();
  const line = (kind: TranscriptLine['kind'], text: string) => {
    transcript.push({ at: board.clock.now(), kind, text });
    if (transcript.length > TRANSCRIPT_LINES) transcript.splice(0, transcript.length - TRANSCRIPT_LINES);
  };
  const snapshot = (panel: PanelState = board.panel.state()): SpeakerSnapshot => ({
    id: opts.id,
    state: panel.state ?? speaker.state,
    led: panel.led,
    display: {
      amount: lastAmount || (panel.display?.lastPayment?.split(' ')[0] ?? ''),
      battery: Math.round(panel.batteryPercent),
      signal: signalBars(panel.signalDbm),
      volume: panel.display?.volume ?? 0,
    },
    lang: opts.lang,
    firmwareVersion: VERSION,
    transcript: [...transcript],
    error,
  });
  const publish = () => {
    const s = snapshot();
    for (const l of listeners) l(s);
  };

  speaker.on('event', (e: SpeakerEvent) => {
    switch (e.event) {
      case 'spoke':
        line(e.what === 'replay' || e.what === 'summary' ? 'payment' : 'prompt', e.text);
        break;
      case 'announced':
        lastAmount = formatAmount({ amount: e.amount, currency: e.currency });
        line('payment', e.text);
        break;
      case 'summarized':
        line('payment', e.text);
        break;
      case 'rejected':
        line('refused', `refused ${e.id ?? 'a message'}: ${e.reason} (${e.detail})`);
        break;
      case 'command':
        if (!e.ok) line('refused', `refused command ${e.command ?? '?'}: ${e.error ?? ''}`);
        break;
      case 'volume':
        line('info', `volume ${e.volume}`);
        break;
      case 'online':
        line('info', `online at ${e.broker}`);
        break;
      case 'offline':
        line('info', `offline (${e.broker})`);
        break;
      default:
        return;
    }
    publish();
  });
  board.panel.subscribe(() => publish());
  const played: PlayedClip[] = [];
  board.audio.onPlay(({ label, samples, sha256, peak }) => {
    played.push({ label, samples, sha256, peak });
    if (played.length > TRANSCRIPT_LINES) played.shift();
  });
  board.audio.onUnheard((clip) =>
    line(
      'info',
      `"${clip.label}" could not be heard: the page's audio is ${clip.state} (click the page to allow sound)`,
    ),
  );

  await speaker.boot().catch((err: Error) => {
    error = err.message;
  });
  publish();

  return {
    id: opts.id,
    snapshot: () => snapshot(),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    press: (button) => board.panel.press(button),
    playedDigest: () => board.audio.playedDigest(),
    playedClips: () => [...played],
    async stop() {
      await speaker.stop();
      publish();
    },
  };
}

/**
 * What the console's page sees of a speaker running in the tab: a snapshot to draw (the box's
 * LED, segment display and transcript) and the box's buttons. The firmware itself runs behind
 * this (console/speaker/run.ts: the real Speaker on the browser board); the page never reaches
 * into it, so the drawing code and the firmware can change apart.
 */
import type { ButtonName } from '../../device/board.ts';
import type { DeviceState } from '../../device/state-machine.ts';

export type { ButtonName, DeviceState };

/** One line of what the box said or did, newest last. */
export interface TranscriptLine {
  /** Epoch ms (the board's clock). */
  at: number;
  /** prompt: 欢迎使用, 网络已连接, 音量最大…; payment: a payment or a summary; refused: a notification or command it refused. */
  kind: 'prompt' | 'payment' | 'refused' | 'info';
  text: string;
}

/** One clip the tab's audio driver played. */
export interface PlayedClip {
  label: string;
  samples: number;
  /** Hex SHA-256 of the clip's little-endian int16 PCM. */
  sha256: string;
  peak: number;
}

/** What the segment display shows, as text for each field (the page draws the digits). */
export interface SegmentDisplay {
  /** The last amount announced, as the box shows it ("123.45"), or "" before the first. */
  amount: string;
  /** 0–100. */
  battery: number;
  /** Signal bars, 0–4. */
  signal: number;
  /** 0–10 (the firmware's volume steps). */
  volume: number;
}

export interface SpeakerSnapshot {
  id: string;
  state: DeviceState;
  /** The LED's colour and pattern for that state, e.g. { color: 'green', blink: false }. */
  led: { color: 'green' | 'amber' | 'red' | 'blue' | 'off'; blink: boolean };
  display: SegmentDisplay;
  lang: string;
  firmwareVersion: string;
  transcript: TranscriptLine[];
  /** Set when the speaker could not start or stopped on an error, in words for the page. */
  error: string | null;
}

export interface SpeakerView {
  readonly id: string;
  /** The current snapshot. */
  snapshot(): SpeakerSnapshot;
  /** Called with a new snapshot after every change; returns the unsubscribe. */
  subscribe(listener: (s: SpeakerSnapshot) => void): () => void;
  /** Presses one of the box's buttons (volume-up, volume-down, replay, summary, power). */
  press(button: ButtonName): void;
  /** For tests: a hex SHA-256 over all PCM the tab's audio driver has played, in order, and the sample count. */
  playedDigest(): Promise<{ sha256: string; samples: number; peak: number }>;
  /** For tests: the clips played so far (the last 200), each with its own PCM digest and peak. */
  playedClips(): PlayedClip[];
  /** Stops the firmware (power off) and closes its connection. */
  stop(): Promise<void>;
}

/** How the page starts a speaker in the tab. */
export interface BrowserSpeakerOptions {
  id: string;
  /** The broker's HTTP origin (API, voice packs), e.g. http://127.0.0.1:8081; the page's own origin by default. */
  apiUrl: string;
  /** The broker's WebSocket MQTT URL, e.g. ws://127.0.0.1:8080 (from GET /v1/info). */
  mqttUrl: string;
  lang: string;
  /** Device credentials from POST /v1/devices/:id/provision (secure broker); null on an --insecure broker. */
  credentials: { username: string; password: string } | null;
  /** The backend's public key (SPKI, PEM) from GET /v1/info; null: signatures are not checked (--insecure). */
  backendPublicKeyPem: string | null;
}

/**
 * The speakers running in this tab: starting one (provisioning its identity first on a secure
 * broker), keeping its SpeakerView, stopping it. The firmware itself is behind
 * `startBrowserSpeaker` (console/speaker/run.ts), injected so the page can be previewed with a
 * stand-in while the firmware is being built.
 *
 * For tests: every running speaker's view is in `window.payspeaker.speakers` (a Map from id to
 * SpeakerView, see main.tsx), so a browser test can call `playedDigest()` or `snapshot()`
 * without reaching into the DOM.
 */
import type { ApiClient, BrokerInfo } from './api.ts';
import type { BrowserSpeakerOptions, SpeakerView } from './speaker/types.ts';

export interface SpeakerEntry {
  id: string;
  lang: string;
  phase: 'provisioning' | 'starting' | 'running' | 'failed';
  view: SpeakerView | null;
  /** Why it could not start, in words for the page (the API's or the firmware's). */
  error: string | null;
}

export type StartSpeaker = (opts: BrowserSpeakerOptions) => Promise<SpeakerView>;

export class SpeakersInTab {
  /** Running speakers by id: what window.payspeaker.speakers exposes to tests. */
  readonly views = new Map<string, SpeakerView>();
  private list: SpeakerEntry[] = [];
  private readonly listeners = new Set<(entries: SpeakerEntry[]) => void>();

  constructor(
    private readonly startFirmware: StartSpeaker,
    private readonly origin: string,
  ) {}

  entries(): SpeakerEntry[] {
    return this.list;
  }

  subscribe(listener: (entries: SpeakerEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts speaker `id`. Resolves when it runs or has failed (the failure is in its entry, for
   * the panel); refuses an id already in the tab, since two firmwares with one identity would
   * throw each other off the broker (MQTT 3.1.1 §3.1.4: a second CONNECT with the same client
   * id disconnects the first).
   */
  async start(id: string, lang: string, api: ApiClient, info: BrokerInfo): Promise<void> {
    const existing = this.list.find((e) => e.id === id);
    if (existing && existing.phase !== 'failed') throw new Error(`speaker ${id} is already in this tab`);
    this.put({ id, lang, phase: info.insecure ? 'starting' : 'provisioning', view: null, error: null });
    try {
      if (!info.mqtt.ws)
        throw new Error(
          'the broker has no WebSocket MQTT listener, so a speaker cannot run in the tab: start the broker without --no-ws-port',
        );
      let credentials: BrowserSpeakerOptions['credentials'] = null;
      let backendPublicKeyPem = info.backendPublicKeyPem;
      if (!info.insecure) {
        const p = await api.provision(id);
        credentials = p.credentials;
        backendPublicKeyPem = p.backendPublicKeyPem ?? backendPublicKeyPem;
        this.patch(id, { phase: 'starting' });
      }
      const view = await this.startFirmware({
        id,
        apiUrl: this.origin,
        mqttUrl: info.mqtt.ws,
        lang,
        credentials,
        backendPublicKeyPem,
      });
      if (!this.list.some((e) => e.id === id)) {
        // Removed while it was starting: do not leave a firmware running with no panel.
        await view.stop();
        return;
      }
      this.views.set(id, view);
      this.patch(id, { phase: 'running', view });
    } catch (err) {
      this.patch(id, { phase: 'failed', error: (err as Error).message || String(err) });
    }
  }

  /** Powers the speaker off, closes its connection and takes its panel away. */
  async remove(id: string): Promise<void> {
    const entry = this.list.find((e) => e.id === id);
    this.views.delete(id);
    this.list = this.list.filter((e) => e.id !== id);
    this.emit();
    await entry?.view?.stop();
  }

  private put(entry: SpeakerEntry): void {
    this.list = [...this.list.filter((e) => e.id !== entry.id), entry];
    this.emit();
  }

  private patch(id: string, change: Partial<SpeakerEntry>): void {
    this.list = this.list.map((e) => (e.id === id ? { ...e, ...change } : e));
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l(this.list);
  }
}

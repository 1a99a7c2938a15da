/**
 * "Speakers in this tab": the control that starts one (an id and a language), and the counter
 * they stand on, one box per speaker. Starting, provisioning and stopping are SpeakersInTab's
 * (console/speakers.ts); this only draws and asks.
 */
import { useEffect, useState } from 'preact/hooks';
import { isDeviceId } from '../../src/protocol/topics.ts';
import { LANGUAGES } from '../../src/speech/index.ts';
import type { ApiClient, BrokerInfo } from '../api.ts';
import type { SpeakerEntry, SpeakersInTab } from '../speakers.ts';
import { SpeakerPanel } from './SpeakerPanel.tsx';

/** The first of the kernel's languages: what a speaker ships with. */
export const DEFAULT_LANG: string = LANGUAGES[0] ?? 'zh-CN';

interface Props {
  api: ApiClient;
  info: BrokerInfo;
  speakers: SpeakersInTab;
  entries: SpeakerEntry[];
}

export function SpeakersArea({ api, info, speakers, entries }: Props) {
  const [id, setId] = useState('SPK-WEB-1');
  const [lang, setLang] = useState(DEFAULT_LANG);
  const [error, setError] = useState<string | null>(null);

  // A deep link may have started the id the field offers: offer the next one instead.
  useEffect(() => {
    if (entries.some((x) => x.id === id.trim() && x.phase !== 'failed')) setId(nextId(id.trim(), entries));
  }, [entries]);

  const add = (e: Event) => {
    e.preventDefault();
    const wanted = id.trim();
    if (!isDeviceId(wanted))
      return setError(
        `${JSON.stringify(wanted)} is not a device id: use 1-64 letters, digits, "-" or "_", starting with a letter or digit (e.g. SPK-WEB-1)`,
      );
    if (entries.some((x) => x.id === wanted && x.phase !== 'failed'))
      return setError(`speaker ${wanted} is already in this tab: pick another id`);
    setError(null);
    void speakers.start(wanted, lang, api, info);
    setId(nextId(wanted, entries));
  };

  return (
    <section class="card" aria-labelledby="speakers-title">
      <h2 id="speakers-title">Speakers in this tab</h2>
      <p class="help">
        Each runs the speaker's real firmware in this page and plays through its audio.
        {info.insecure ? '' : ' On this secure broker each gets its own identity from the broker.'}
      </p>
      <form class="add-speaker" id="add-speaker" onSubmit={add}>
        <div class="field">
          <label for="add-speaker-id">Speaker id</label>
          <input
            id="add-speaker-id"
            name="id"
            autoComplete="off"
            spellcheck={false}
            value={id}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby="add-speaker-error"
            onInput={(e) => setId(e.currentTarget.value)}
          />
        </div>
        <div class="field narrow">
          <label for="add-speaker-lang">Language</label>
          <select id="add-speaker-lang" value={lang} onChange={(e) => setLang(e.currentTarget.value)}>
            {LANGUAGES.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div class="actions">
          <button type="submit" id="add-speaker-submit">
            Add a speaker in this tab
          </button>
        </div>
      </form>
      <p id="add-speaker-error" role="alert" class="error">
        {error}
      </p>
      {entries.length > 0 && (
        <ul class="counter" aria-label="The shop counter">
          {entries.map((e) => (
            <li key={e.id}>
              <SpeakerPanel
                entry={e}
                onRetry={() => void speakers.start(e.id, e.lang, api, info)}
                onRemove={() => void speakers.remove(e.id)}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** SPK-WEB-1 → SPK-WEB-2 (skipping ids in use), so adding a second box is one more click. */
function nextId(id: string, entries: SpeakerEntry[]): string {
  const m = /^(.*?)(\d+)$/.exec(id);
  if (!m) return id;
  const used = new Set([id, ...entries.map((e) => e.id)]);
  let n = Number(m[2]);
  let next: string;
  do next = `${m[1]}${++n}`;
  while (used.has(next));
  return next;
}

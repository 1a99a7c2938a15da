/**
 * One speaker in the tab, drawn as the box on a shop counter: status LED, segment display
 * (amount, battery, signal, volume), the five keys and, beside it, the transcript of every
 * prompt and announcement. Everything comes from the SpeakerView's snapshots; the keys go
 * back through view.press(), exactly as a finger on the real box would.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ButtonName, SpeakerSnapshot, SpeakerView } from '../speaker/types.ts';
import type { SpeakerEntry } from '../speakers.ts';

const KEYS: { button: ButtonName; label: string }[] = [
  { button: 'volume-down', label: 'Volume down' },
  { button: 'volume-up', label: 'Volume up' },
  { button: 'replay', label: 'Replay' },
  { button: 'summary', label: 'Summary' },
  { button: 'power', label: 'Power' },
];

const PHASE_TEXT: Record<SpeakerEntry['phase'], string> = {
  provisioning: 'Getting its own identity from the broker…',
  starting: 'Starting the firmware…',
  running: '',
  failed: 'Could not start.',
};

interface Props {
  entry: SpeakerEntry;
  onRetry(): void;
  onRemove(): void;
}

export function SpeakerPanel({ entry, onRetry, onRemove }: Props) {
  const snap = useSnapshot(entry.view);
  const titleId = `speaker-${entry.id}-title`;
  const error = entry.error ?? snap?.error ?? null;
  return (
    <section class="speaker" aria-labelledby={titleId} data-speaker-id={entry.id} data-phase={entry.phase}>
      <h3 id={titleId}>Speaker {entry.id}</h3>
      <div class="speaker-body">
        <div class="box">
          <div class="box-top">
            <Led snap={snap} />
            <span class="grille" aria-hidden="true" />
          </div>
          <Display snap={snap} />
          <div class="keys" role="group" aria-label={`Keys of ${entry.id}`}>
            {KEYS.map((k) => (
              <button
                key={k.button}
                type="button"
                class={`key key-${k.button}`}
                data-button={k.button}
                disabled={!entry.view}
                onClick={() => entry.view?.press(k.button)}
              >
                {k.label}
              </button>
            ))}
          </div>
          <p class="box-label" aria-hidden="true">
            {entry.id}
          </p>
        </div>
        <div class="speaker-side">
          {entry.phase !== 'running' && <p class="phase">{PHASE_TEXT[entry.phase]}</p>}
          <p class="error speaker-error" role="alert">
            {error}
          </p>
          {snap && (
            <p class="help">
              Language {snap.lang} · firmware {snap.firmwareVersion}
            </p>
          )}
          <Transcript id={entry.id} snap={snap} />
          <div class="inline">
            {entry.phase === 'failed' && (
              <button type="button" onClick={onRetry}>
                Try again
              </button>
            )}
            <button type="button" class="quiet" onClick={onRemove}>
              Remove {entry.id} from this tab
            </button>
          </div>
        </div>
      </div>
    </section>
  );
}

function useSnapshot(view: SpeakerView | null): SpeakerSnapshot | null {
  const [snap, setSnap] = useState<SpeakerSnapshot | null>(() => view?.snapshot() ?? null);
  useEffect(() => {
    if (!view) return setSnap(null);
    setSnap(view.snapshot());
    return view.subscribe(setSnap);
  }, [view]);
  return snap;
}

/** The light, and the state in words beside it: the colour alone is not the message. */
function Led({ snap }: { snap: SpeakerSnapshot | null }) {
  const led = snap?.led ?? { color: 'off', blink: false };
  return (
    <p class="led-row" data-led={led.color} data-blink={String(led.blink)}>
      <span class={`led led-${led.color}${led.blink ? ' blink' : ''}`} aria-hidden="true" />
      <span class="state">{snap?.state ?? 'off'}</span>
      <span class="sr-only">
        , status light {led.color}
        {led.blink ? ', blinking' : ''}
      </span>
    </p>
  );
}

function Display({ snap }: { snap: SpeakerSnapshot | null }) {
  const d = snap?.display;
  const battery = d ? Math.max(0, Math.min(100, Math.round(d.battery))) : null;
  const signal = d ? Math.max(0, Math.min(4, Math.round(d.signal))) : 0;
  return (
    <div class={`lcd${snap ? '' : ' lcd-off'}`} role="group" aria-label="Display">
      <p class="lcd-amount" data-amount={d?.amount ?? ''}>
        <span class="sr-only">Last amount </span>
        {d ? d.amount || '----' : ''}
      </p>
      <div class="lcd-row">
        <span class="lcd-battery">
          <span class="battery" aria-hidden="true">
            <span class="battery-fill" style={{ width: `${battery ?? 0}%` }} />
          </span>
          <span class="sr-only">Battery </span>
          {battery === null ? '' : `${battery}%`}
        </span>
        <span class="lcd-signal">
          <span class="bars" aria-hidden="true">
            {[1, 2, 3, 4].map((n) => (
              <span key={n} class={`bar${n <= signal ? ' on' : ''}`} />
            ))}
          </span>
          <span class="sr-only">Signal {signal} of 4 bars</span>
        </span>
        <span class="lcd-volume">{d ? `VOL ${d.volume}` : ''}</span>
      </div>
    </div>
  );
}

/** Every prompt and announcement, newest last; kept scrolled to the end as lines arrive. */
function Transcript({ id, snap }: { id: string; snap: SpeakerSnapshot | null }) {
  const list = useRef<HTMLOListElement>(null);
  const lines = snap?.transcript ?? [];
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  return (
    <>
      <h4 id={`speaker-${id}-said`}>What it said</h4>
      <ol
        ref={list}
        class="transcript"
        aria-live="polite"
        aria-labelledby={`speaker-${id}-said`}
        // Scrollable, so it must be reachable with the keyboard (WCAG 2.1.1).
        tabIndex={0}
        data-transcript={id}
      >
        {lines.length === 0 && <li class="help">Nothing yet.</li>}
        {lines.map((l, i) => (
          <li key={i} class={`line line-${l.kind}`} data-kind={l.kind}>
            <time dateTime={new Date(l.at).toISOString()}>{new Date(l.at).toLocaleTimeString()}</time>{' '}
            <span class="kind">{l.kind}</span> <span lang={l.kind === 'info' ? undefined : snap?.lang}>{l.text}</span>
          </li>
        ))}
      </ol>
    </>
  );
}

/**
 * The page's banner landmark: title, the links to each part, whether live updates are
 * flowing, and, on an --insecure broker, a warning that cannot be missed.
 */
import { useEffect, useState } from 'preact/hooks';
import type { BrokerInfo } from '../api.ts';
import type { StreamState } from '../events.ts';

interface Props {
  info: BrokerInfo;
  stream: StreamState;
  /** null on an --insecure broker: there is nothing to log out of. */
  onLogout: (() => void) | null;
}

export function Header({ info, stream, onLogout }: Props) {
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to the console
      </a>
      <div class="top-row">
        <h1>payspeaker console</h1>
        {info.version && <p class="version">broker {info.version}</p>}
        <StreamStatus stream={stream} />
        {onLogout && (
          <button type="button" onClick={onLogout}>
            Log out
          </button>
        )}
      </div>
      {info.insecure && (
        <p class="banner" id="insecure-banner">
          <strong>Warning:</strong> This broker is --insecure: anyone can pay and command speakers.
        </p>
      )}
      <nav aria-label="Parts of the console">
        <ul>
          <li>
            <a href="#pay-title">Send a payment</a>
          </li>
          <li>
            <a href="#payments-title">Payments</a>
          </li>
          <li>
            <a href="#speakers-title">Speakers in this tab</a>
          </li>
          <li>
            <a href="#devices-title">Devices</a>
          </li>
        </ul>
      </nav>
    </header>
  );
}

/** "Live updates: on" or when the next try is; text, since the dot's colour alone says nothing to some. */
function StreamStatus({ stream }: { stream: StreamState }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (stream.kind !== 'waiting') return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [stream]);
  let text: string;
  switch (stream.kind) {
    case 'open':
      text = 'Live updates: on';
      break;
    case 'connecting':
      text = 'Live updates: connecting…';
      break;
    case 'waiting':
      text = `Live updates: off (${stream.reason}); retrying in ${Math.max(0, Math.ceil((stream.retryAt - now) / 1000))} s`;
      break;
    case 'closed':
      text = `Live updates: off (${stream.reason})`;
      break;
  }
  return (
    <p class={`stream stream-${stream.kind}`} id="stream-status" title={text}>
      <span class="dot" aria-hidden="true" />
      {text}
    </p>
  );
}

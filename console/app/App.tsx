/**
 * The page's first decision: what kind of broker is this? GET /v1/info needs no credential.
 * On a secure broker nothing else is fetched or shown until a backend token works (a 401
 * anywhere later brings the login back, with the API's words); on an --insecure broker the
 * console opens at once, under a banner that says so.
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient, ApiError, type BrokerInfo } from '../api.ts';
import type { SpeakersInTab } from '../speakers.ts';
import { Console } from './Console.tsx';
import { Login } from './Login.tsx';

/** sessionStorage, not localStorage: the token leaves with the tab, and other tabs do not share it. */
const TOKEN_KEY = 'payspeaker.token';

type Phase =
  | { kind: 'loading' }
  | { kind: 'unreachable'; message: string }
  | { kind: 'login'; info: BrokerInfo; message: string | null; checking: boolean }
  | { kind: 'ready'; info: BrokerInfo };

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the user logs in again on reload
  }
}

function storeToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // storage disabled: the token lives in memory for this page only
  }
}

export function App({ speakers }: { speakers: SpeakersInTab }) {
  const [token, setToken] = useState<string | null>(storedToken);
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });
  // The client reads the token at each call; a ref-like closure over state keeps it current.
  const api = useMemo(() => new ApiClient('', () => currentToken.value), []);
  currentToken.value = token;

  /** Tries a token: only a 401 means it is wrong; any other answer means the API let us in. */
  const check = useCallback(
    async (info: BrokerInfo, candidate: string) => {
      setPhase({ kind: 'login', info, message: null, checking: true });
      currentToken.value = candidate;
      try {
        await api.request('GET', '/v1/payments?limit=1');
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 0)) {
          currentToken.value = null;
          setToken(null);
          storeToken(null);
          setPhase({ kind: 'login', info, message: err.message, checking: false });
          return;
        }
      }
      setToken(candidate);
      storeToken(candidate);
      setPhase({ kind: 'ready', info });
    },
    [api],
  );

  const load = useCallback(async () => {
    setPhase({ kind: 'loading' });
    let info: BrokerInfo;
    try {
      info = await api.info();
    } catch (err) {
      setPhase({ kind: 'unreachable', message: (err as Error).message });
      return;
    }
    if (info.insecure) setPhase({ kind: 'ready', info });
    else if (token) await check(info, token);
    else setPhase({ kind: 'login', info, message: null, checking: false });
    // Runs once: `token` is the one stored at load; later tokens arrive through check().
  }, [api, check]);

  useEffect(() => {
    void load();
  }, [load]);

  /** A 401 from any call: the token no longer works (the broker's backend password changed). */
  const logout = useCallback(
    (message: string | null) => {
      currentToken.value = null;
      setToken(null);
      storeToken(null);
      if (phase.kind === 'ready' || phase.kind === 'login') {
        const info = phase.info;
        setPhase({ kind: 'login', info, message, checking: false });
        for (const id of [...speakers.views.keys()]) void speakers.remove(id);
      }
    },
    [phase, speakers],
  );

  switch (phase.kind) {
    case 'loading':
      return <Shell>Connecting to the broker…</Shell>;
    case 'unreachable':
      return (
        <Shell>
          <p role="alert" class="error">
            {phase.message}
          </p>
          <button type="button" onClick={() => void load()}>
            Try again
          </button>
        </Shell>
      );
    case 'login':
      return (
        <Login
          message={phase.message}
          checking={phase.checking}
          onSubmit={(t) => void check(phase.info, t)}
          version={phase.info.version}
        />
      );
    case 'ready':
      return <Console api={api} info={phase.info} speakers={speakers} onUnauthorized={logout} />;
  }
}

/** The token the ApiClient sends, outside Preact's render cycle so in-flight calls see a logout. */
const currentToken: { value: string | null } = { value: null };

function Shell({ children }: { children: ComponentChildren }) {
  return (
    <>
      <header class="top">
        <h1>payspeaker console</h1>
      </header>
      <main id="main" class="shell">
        {children}
      </main>
    </>
  );
}

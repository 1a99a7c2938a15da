/**
 * The console once the API lets us in: loads the payments and devices, keeps them current
 * from the event stream (GET /v1/events), and lays out the four parts. Every 401 goes up to
 * App, which returns to the login.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorFrom, type ApiClient, type BrokerInfo, type Device, type Payment } from '../api.ts';
import { openEventStream, type SseEvent, type StreamState } from '../events.ts';
import type { SpeakerEntry, SpeakersInTab } from '../speakers.ts';
import { mergeDevice, mergePayment, mergePayments, speakersFromQuery } from '../store.ts';
import { Header } from './Header.tsx';
import { PaymentForm } from './PaymentForm.tsx';
import { PaymentsList } from './PaymentsList.tsx';
import { DevicesList } from './DevicesList.tsx';
import { DEFAULT_LANG, SpeakersArea } from './SpeakersArea.tsx';

interface Props {
  api: ApiClient;
  info: BrokerInfo;
  speakers: SpeakersInTab;
  onUnauthorized(message: string): void;
}

export function Console({ api, info, speakers, onUnauthorized }: Props) {
  const [payments, setPayments] = useState<Payment[]>([]);
  const [paymentsError, setPaymentsError] = useState<string | null>(null);
  const [devices, setDevices] = useState<Device[]>([]);
  const [devicesError, setDevicesError] = useState<string | null>(null);
  const [stream, setStream] = useState<StreamState>({ kind: 'connecting' });
  const entries = useSpeakerEntries(speakers);

  /** The API's words for any failure; a 401 also ends the session. */
  const describe = useCallback(
    (err: unknown): string => {
      if (err instanceof ApiError && err.status === 401) onUnauthorized(err.message);
      return err instanceof Error ? err.message : String(err);
    },
    [onUnauthorized],
  );

  const reload = useCallback(async () => {
    const [p, d] = await Promise.allSettled([api.payments(50), api.devices()]);
    if (p.status === 'fulfilled') {
      setPayments((list) => mergePayments(list, p.value));
      setPaymentsError(null);
    } else setPaymentsError(describe(p.reason));
    if (d.status === 'fulfilled') {
      setDevices((list) => d.value.reduce(mergeDevice, list));
      setDevicesError(null);
    } else setDevicesError(describe(d.reason));
  }, [api, describe]);

  useEffect(() => {
    void reload();
    let opened = 0;
    return openEventStream({
      url: '/v1/events',
      headers: () => api.headers(),
      onEvent: (ev) => applyEvent(ev, setPayments, setDevices),
      // The first open follows the load above; a reopen reloads what the gap may have missed.
      onOpen: () => {
        if (opened++ > 0) void reload();
      },
      onState: setStream,
      onUnauthorized,
      describe: async (res) => (await errorFrom(res)).message,
    });
  }, [api, reload, onUnauthorized]);

  // ?speaker=SPK-WEB-1 (repeatable, or comma-separated) starts speakers at load; ?lang= picks their language.
  const deepLinked = useRef(false);
  useEffect(() => {
    if (deepLinked.current) return;
    deepLinked.current = true;
    const lang = new URLSearchParams(location.search).get('lang') ?? DEFAULT_LANG;
    for (const id of speakersFromQuery(location.search)) {
      if (!speakers.entries().some((e) => e.id === id)) void speakers.start(id, lang, api, info);
    }
  }, [api, info, speakers]);

  // A speaker started or failed in the tab: provisioning added it to the registry, which sends
  // no device event until it connects, so the list is read again.
  const phases = entries.map((e) => `${e.id}:${e.phase}`).join(' ');
  useEffect(() => {
    if (!phases) return;
    api.devices().then(
      (list) => setDevices((l) => list.reduce(mergeDevice, l)),
      () => {}, // the list keeps what it has; the event stream or the next reload brings the rest
    );
  }, [api, phases]);

  const knownIds = [...new Set([...entries.map((e) => e.id), ...devices.map((d) => d.id)])].sort();
  const suggested = entries[0]?.id ?? devices.find((d) => d.online)?.id ?? '';

  return (
    <>
      <Header info={info} stream={stream} onLogout={info.insecure ? null : () => onUnauthorized('Logged out.')} />
      <main id="main" class="columns">
        <div class="column">
          <PaymentForm
            api={api}
            deviceIds={knownIds}
            suggestedDevice={suggested}
            onPaid={(p) => setPayments((list) => mergePayment(list, p))}
            describe={describe}
          />
          <PaymentsList api={api} payments={payments} error={paymentsError} describe={describe} />
        </div>
        <div class="column">
          <SpeakersArea api={api} info={info} speakers={speakers} entries={entries} />
          <DevicesList api={api} devices={devices} error={devicesError} describe={describe} />
        </div>
      </main>
    </>
  );
}

function applyEvent(
  ev: SseEvent,
  setPayments: (f: (l: Payment[]) => Payment[]) => void,
  setDevices: (f: (l: Device[]) => Device[]) => void,
): void {
  let data: { payment?: Payment; device?: Device };
  try {
    data = JSON.parse(ev.data) as typeof data;
  } catch {
    console.warn(`payspeaker console: an "${ev.event}" event whose data is not JSON was skipped`, ev.data);
    return;
  }
  if (ev.event === 'payment' && data.payment?.id) setPayments((l) => mergePayment(l, data.payment!));
  else if (ev.event === 'device' && data.device?.id) setDevices((l) => mergeDevice(l, data.device!));
}

function useSpeakerEntries(speakers: SpeakersInTab): SpeakerEntry[] {
  const [entries, setEntries] = useState(speakers.entries());
  useEffect(() => {
    setEntries(speakers.entries());
    return speakers.subscribe(setEntries);
  }, [speakers]);
  return entries;
}

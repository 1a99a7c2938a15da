/**
 * The payment form: POST /v1/payments as a backend would send it. The amount is typed as a
 * decimal and sent as integer minor units of the currency (console/store.ts amountToMinor,
 * the kernel's exact parser). The idempotency key is shown, editable, and renewed after each
 * accepted payment, so "send the same payment again" is typing the old key back.
 */
import { useEffect, useState } from 'preact/hooks';
import { CHANNELS } from '../../src/protocol/channels.ts';
import type { ApiClient, Payment } from '../api.ts';
import { amountToMinor, formatMoney, newIdempotencyKey } from '../store.ts';

/** Currencies offered in the list; any other ISO 4217 code can be typed. */
const CURRENCIES = ['CNY', 'INR', 'USD', 'EUR', 'JPY', 'KWD', 'VND', 'IDR', 'BRL', 'THB'];

const CHANNEL_NAMES: Record<(typeof CHANNELS)[number], string> = {
  wechat: 'WeChat Pay (wechat)',
  alipay: 'Alipay (alipay)',
  unionpay: 'UnionPay (unionpay)',
  paytm: 'Paytm (paytm)',
  phonepe: 'PhonePe (phonepe)',
  gpay: 'Google Pay (gpay)',
  generic: 'Generic (generic)',
};

interface Props {
  api: ApiClient;
  deviceIds: string[];
  /** Filled in while the device field is still empty (the first speaker in the tab). */
  suggestedDevice: string;
  onPaid(p: Payment): void;
  describe(err: unknown): string;
}

type Outcome = { kind: 'ok'; text: string } | { kind: 'error'; text: string; field?: string } | null;

export function PaymentForm({ api, deviceIds, suggestedDevice, onPaid, describe }: Props) {
  const [device, setDevice] = useState('');
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState('CNY');
  const [channel, setChannel] = useState<string>('wechat');
  const [refund, setRefund] = useState(false);
  const [key, setKey] = useState(() => newIdempotencyKey());
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(null);

  // Only when the suggestion changes, and never over what was typed.
  useEffect(() => {
    if (device === '' && suggestedDevice) setDevice(suggestedDevice);
  }, [suggestedDevice]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const parsed = amountToMinor(amount, currency);
    if (!parsed.ok) return setOutcome({ kind: 'error', text: parsed.message, field: 'amount' });
    setBusy(true);
    setOutcome(null);
    try {
      const { payment, replayed } = await api.pay(
        {
          device: device.trim(),
          amount: parsed.minor,
          currency: currency.trim().toUpperCase(),
          channel,
          kind: refund ? 'refund' : 'payment',
        },
        key.trim(),
      );
      onPaid(payment);
      const what = `${refund ? 'refund' : 'payment'} ${payment.id}: ${formatMoney(payment.amount, payment.currency)} to ${payment.device}`;
      setOutcome({
        kind: 'ok',
        text: replayed
          ? `Key ${key.trim()} was used before with the same fields: the API returned the existing ${what} (status ${payment.status}); nothing new is sent.`
          : `Accepted ${what}.`,
      });
      setKey(newIdempotencyKey());
    } catch (err) {
      const field = (err as { field?: string }).field;
      setOutcome({ kind: 'error', text: describe(err), field });
    } finally {
      setBusy(false);
    }
  };

  const invalid = (f: string) => (outcome?.kind === 'error' && outcome.field === f ? 'true' : undefined);
  const describedBy = (f: string, help?: string) =>
    [help, outcome?.kind === 'error' && outcome.field === f ? 'pay-error' : undefined].filter(Boolean).join(' ') ||
    undefined;

  return (
    <section class="card" aria-labelledby="pay-title">
      <h2 id="pay-title">Send a payment</h2>
      <form id="pay-form" class="pay-form" onSubmit={submit} noValidate>
        <div class="field">
          <label for="pay-device">Device</label>
          <input
            id="pay-device"
            name="device"
            list="pay-device-list"
            autoComplete="off"
            spellcheck={false}
            required
            value={device}
            aria-invalid={invalid('device')}
            aria-describedby={describedBy('device')}
            onInput={(e) => setDevice(e.currentTarget.value)}
          />
          <datalist id="pay-device-list">
            {deviceIds.map((id) => (
              <option key={id} value={id} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="pay-amount">Amount</label>
          <input
            id="pay-amount"
            name="amount"
            inputMode="decimal"
            autoComplete="off"
            placeholder="123.45"
            required
            value={amount}
            aria-invalid={invalid('amount')}
            aria-describedby={describedBy('amount', 'pay-amount-help')}
            onInput={(e) => setAmount(e.currentTarget.value)}
          />
          <p id="pay-amount-help" class="help">
            A decimal, e.g. 123.45; sent as minor units of the currency.
          </p>
        </div>
        <div class="field narrow">
          <label for="pay-currency">Currency</label>
          <input
            id="pay-currency"
            name="currency"
            list="pay-currency-list"
            autoComplete="off"
            maxLength={3}
            required
            value={currency}
            aria-invalid={invalid('currency')}
            aria-describedby={describedBy('currency')}
            onInput={(e) => setCurrency(e.currentTarget.value.toUpperCase())}
          />
          <datalist id="pay-currency-list">
            {CURRENCIES.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="pay-channel">Channel</label>
          <select
            id="pay-channel"
            name="channel"
            value={channel}
            aria-invalid={invalid('channel')}
            onChange={(e) => setChannel(e.currentTarget.value)}
          >
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {CHANNEL_NAMES[c]}
              </option>
            ))}
          </select>
        </div>
        <div class="field check">
          <input
            id="pay-refund"
            name="refund"
            type="checkbox"
            checked={refund}
            onChange={(e) => setRefund(e.currentTarget.checked)}
          />
          <label for="pay-refund">Refund</label>
        </div>
        <div class="field wide">
          <label for="pay-key">Idempotency key</label>
          <div class="inline">
            <input
              id="pay-key"
              name="idempotencyKey"
              autoComplete="off"
              spellcheck={false}
              value={key}
              aria-invalid={invalid('idempotencyKey')}
              aria-describedby={describedBy('idempotencyKey', 'pay-key-help')}
              onInput={(e) => setKey(e.currentTarget.value)}
            />
            <button type="button" id="pay-new-key" onClick={() => setKey(newIdempotencyKey())}>
              New key
            </button>
          </div>
          <p id="pay-key-help" class="help">
            The same key sends the same payment once; a new one is made after each accepted payment. Leave it empty to
            send none.
          </p>
        </div>
        <div class="actions wide">
          <button type="submit" class="primary" id="pay-submit" disabled={busy}>
            {busy ? 'Sending…' : refund ? 'Send refund' : 'Send payment'}
          </button>
        </div>
      </form>
      <p id="pay-status" role="status" class="ok">
        {outcome?.kind === 'ok' ? outcome.text : ''}
      </p>
      <p id="pay-error" role="alert" class="error">
        {outcome?.kind === 'error' ? outcome.text : ''}
      </p>
    </section>
  );
}

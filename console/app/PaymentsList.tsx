/**
 * The live list of payments, newest first. Rows change in place as events arrive (queued →
 * delivered → played…), with no reload; each opens to what the speaker said and the payment's
 * history, fetched when opened and again whenever the payment changes while open.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ApiClient, Payment, PaymentHistoryEntry } from '../api.ts';
import { formatMoney, formatTime } from '../store.ts';
import { StatusBadge } from './StatusBadge.tsx';

interface Props {
  api: ApiClient;
  payments: Payment[];
  error: string | null;
  describe(err: unknown): string;
}

export function PaymentsList({ api, payments, error, describe }: Props) {
  return (
    <section class="card" aria-labelledby="payments-title">
      <h2 id="payments-title">Payments</h2>
      <p class="help">Newest first, updated live. Open a payment to see its history.</p>
      <p id="payments-error" role="alert" class="error">
        {error}
      </p>
      {payments.length === 0 ? (
        <p class="empty">No payments yet.</p>
      ) : (
        <ul class="payments" id="payments-list" aria-labelledby="payments-title">
          {payments.map((p) => (
            <PaymentRow key={p.id} api={api} payment={p} describe={describe} />
          ))}
        </ul>
      )}
    </section>
  );
}

function PaymentRow({ api, payment: p, describe }: { api: ApiClient; payment: Payment; describe(e: unknown): string }) {
  const [open, setOpen] = useState(false);
  const [history, setHistory] = useState<PaymentHistoryEntry[] | null>(p.history ?? null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!open) return;
    if (p.history) return setHistory(p.history);
    let live = true;
    api.payment(p.id).then(
      (r) => live && (setHistory(r.history), setError(null)),
      (err) => live && setError(describe(err)),
    );
    return () => {
      live = false;
    };
  }, [open, p.id, p.updatedAt, p.history, api, describe]);

  return (
    <li class={`payment ${p.kind === 'refund' ? 'refund' : ''}`} data-payment-id={p.id} data-status={p.status}>
      <details onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary>
          <span class="pay-amount">
            {p.kind === 'refund' && <span class="badge refund-badge">refund</span>}
            {formatMoney(p.amount, p.currency)}
          </span>
          <span class="pay-device">{p.device}</span>
          <StatusBadge status={p.status} />
          <span class="pay-id">{p.id}</span>
          <span class="pay-time">
            <time dateTime={new Date(p.createdAt).toISOString()}>{formatTime(p.createdAt)}</time>
          </span>
        </summary>
        <div class="pay-detail">
          <dl>
            <dt>Channel</dt>
            <dd>{p.channel}</dd>
            {p.text !== undefined && (
              <>
                <dt>Speaker said</dt>
                <dd class="said">{p.text}</dd>
              </>
            )}
            {p.reason !== undefined && (
              <>
                <dt>Reason</dt>
                <dd>
                  {p.reason}
                  {p.detail !== undefined && `: ${p.detail}`}
                </dd>
              </>
            )}
            <dt>Attempts</dt>
            <dd>{p.attempts}</dd>
            <dt>Idempotency key</dt>
            <dd>{p.idempotencyKey ?? '—'}</dd>
          </dl>
          <h3 class="sr-only">History of {p.id}</h3>
          {error && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
          {history === null ? (
            !error && <p class="help">Loading the history…</p>
          ) : (
            <ol class="history">
              {history.map((h, i) => (
                <li key={i}>
                  <time dateTime={new Date(h.at).toISOString()}>{formatTime(h.at)}</time> <span>{h.event}</span>{' '}
                  <StatusBadge status={h.status} />
                  {h.detail && <span class="help"> {h.detail}</span>}
                </li>
              ))}
            </ol>
          )}
        </div>
      </details>
    </li>
  );
}

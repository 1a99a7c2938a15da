/**
 * The page's client for the broker's HTTP API (docs/API.md), same origin only. Every call
 * sends the backend token as a bearer token when there is one (a secure broker), and every
 * refusal becomes an ApiError carrying the API's own `code` and `message`, so the page shows
 * the API's words rather than inventing its own.
 */
import type { PaymentHistoryEntry, PaymentView } from '../src/api/types.ts';

/** GET /v1/info: what the page needs before anything else (no credential needed). */
export interface BrokerInfo {
  insecure: boolean;
  mqtt: { ws: string | null; [k: string]: unknown };
  backendPublicKeyPem: string | null;
  version?: string;
}

/** A payment as the list and the event stream carry it; `history` only when the API includes it. */
export type Payment = PaymentView & { history?: PaymentHistoryEntry[] };
export type { PaymentHistoryEntry };

/**
 * A device as GET /v1/devices lists it. Only `id` is sure: the broker knows more about some
 * devices than others (state messages, registry), so the page draws what is there.
 */
export interface Device {
  id: string;
  status?: string;
  online?: boolean;
  lastSeen?: number | null;
  lastPaymentAt?: number | null;
  /** Its latest retained state message as the broker saw it (broker/tracker.ts ReportedState); null if none. */
  state?: ReportedState | null;
  payments?: Record<string, number>;
  acks?: Record<string, number>;
}

/** What a speaker last said about itself on its state topic; a field it did not send is null. */
export interface ReportedState {
  online?: boolean;
  firmware?: string | null;
  lang?: string | null;
  volume?: number | null;
  at?: number;
}

export interface NewPaymentForm {
  device: string;
  amount: number;
  currency: string;
  channel: string;
  kind: 'payment' | 'refund';
}

/**
 * The commands the console sends (src/protocol/command.ts has them all). volume-up/-down rather
 * than set-volume to the shown value ± 1: the speaker steps from its own volume, which the
 * page may not know yet, and says 音量最大/最小 at the ends as its own key would.
 */
export type CommandName = 'volume-up' | 'volume-down' | 'set-volume' | 'replay' | 'summary' | 'battery';

export interface Provisioned {
  device?: unknown;
  credentials: { username: string; password: string };
  backendPublicKeyPem?: string | null;
}

/** A refusal from the API (or the network), in the API's words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Turns any answer that is not 2xx into an ApiError, keeping the API's code and message. */
export async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
    const e = body.error;
    if (e && typeof e.message === 'string') {
      return new ApiError(
        res.status,
        typeof e.code === 'string' ? e.code : `http-${res.status}`,
        e.message,
        typeof e.field === 'string' ? e.field : undefined,
      );
    }
  } catch {
    // Not JSON: a proxy or an older broker answered; fall through to the status line.
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError(
    res.status,
    `http-${res.status}`,
    `${res.status} ${res.statusText || 'error'}${snippet ? `: ${snippet}` : ''}`,
  );
}

export class ApiClient {
  /** `token` is read at each call, so a new login takes effect without a new client. */
  constructor(
    private readonly base: string,
    private readonly token: () => string | null,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const t = this.token();
    return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: this.headers(body === undefined ? extra : { 'content-type': 'application/json', ...extra }),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      // fetch rejects only when no answer came at all: say where we tried, and what to check.
      throw new ApiError(
        0,
        'network',
        `could not reach the broker at ${this.base || location.origin} (${(err as Error).message}): is it still running?`,
      );
    }
    if (!res.ok) throw await errorFrom(res);
    return (await res.json()) as T;
  }

  info(): Promise<BrokerInfo> {
    return this.request('GET', '/v1/info');
  }

  async payments(limit = 50): Promise<Payment[]> {
    return (await this.request<{ payments: Payment[] }>('GET', `/v1/payments?limit=${limit}`)).payments;
  }

  /** One payment and its history (the API answers them side by side). */
  async payment(id: string): Promise<{ payment: Payment; history: PaymentHistoryEntry[] }> {
    const r = await this.request<{ payment: Payment; history?: PaymentHistoryEntry[] }>(
      'GET',
      `/v1/payments/${encodeURIComponent(id)}`,
    );
    return { payment: r.payment, history: r.history ?? r.payment.history ?? [] };
  }

  /** POST /v1/payments; `replayed` when the idempotency key had been used with the same fields. */
  async pay(p: NewPaymentForm, idempotencyKey: string): Promise<{ payment: Payment; replayed: boolean }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/v1/payments`, {
        method: 'POST',
        headers: this.headers({
          'content-type': 'application/json',
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        }),
        body: JSON.stringify(p),
      });
    } catch (err) {
      throw new ApiError(0, 'network', `could not reach the broker (${(err as Error).message}): is it still running?`);
    }
    if (!res.ok) throw await errorFrom(res);
    const body = (await res.json()) as { payment: Payment };
    return { payment: body.payment, replayed: res.status === 200 };
  }

  async devices(): Promise<Device[]> {
    return (await this.request<{ devices: Device[] }>('GET', '/v1/devices')).devices;
  }

  command(device: string, command: CommandName, args?: Record<string, unknown>): Promise<{ command: unknown }> {
    return this.request('POST', `/v1/devices/${encodeURIComponent(device)}/commands`, {
      command,
      ...(args && { args }),
    });
  }

  /**
   * Gives a speaker in the tab its own identity on a secure broker. `renew=1` asks for fresh
   * credentials when the id was provisioned before (a reloaded tab has lost the old password).
   */
  provision(device: string): Promise<Provisioned> {
    return this.request('POST', `/v1/devices/${encodeURIComponent(device)}/provision?renew=1`);
  }
}

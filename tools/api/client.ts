/**
 * A client for the notification service's HTTP API (broker/http, docs/API.md): what `pay`,
 * `payments`, `watch`, the demo and the chaos run use, and what a payment backend would write.
 * Plain fetch.
 */
import { FINAL_STATUSES, type NewPayment, type PaymentHistoryEntry, type PaymentView } from '../../src/api/types.ts';

export {
  FINAL_STATUSES,
  type NewPayment,
  type PaymentHistoryEntry,
  type PaymentStatus,
  type PaymentView,
} from '../../src/api/types.ts';

/** The API answered with an error: `status` is the HTTP status, `code` the API's error code. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

export class ApiUnreachableError extends Error {
  constructor(
    readonly url: string,
    cause: string,
  ) {
    super(
      `cannot reach the notification API at ${url} (${cause}): is "npx payspeaker broker" running with its HTTP port there? (--api URL; or pay --direct to publish over MQTT)`,
    );
    this.name = 'ApiUnreachableError';
  }
}

export class NotificationApi {
  private readonly base: string;

  constructor(
    baseUrl: string,
    /** The backend's password (DIR/broker/backend.json), or null for an --insecure broker. */
    private readonly token: string | null,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  async createPayment(p: NewPayment): Promise<{ payment: PaymentView; created: boolean }> {
    const res = await this.request('POST', '/v1/payments', p);
    return { payment: ((await res.json()) as { payment: PaymentView }).payment, created: res.status === 201 };
  }

  /** The payment and its history; with `waitMs`, the server holds the answer until it is final (at most 60 s). */
  async getPayment(id: string, waitMs = 0): Promise<{ payment: PaymentView; history: PaymentHistoryEntry[] }> {
    const query = waitMs > 0 ? `?wait=${Math.ceil(waitMs)}ms` : '';
    const res = await this.request('GET', `/v1/payments/${encodeURIComponent(id)}${query}`);
    return (await res.json()) as { payment: PaymentView; history: PaymentHistoryEntry[] };
  }

  /** Waits until the payment is final or `timeoutMs` passes; returns it as it then is. */
  async waitFinal(id: string, timeoutMs: number): Promise<{ payment: PaymentView; history: PaymentHistoryEntry[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const got = await this.getPayment(id, Math.max(0, Math.min(left, 60_000)));
      if (FINAL_STATUSES.has(got.payment.status) || Date.now() >= deadline) return got;
    }
  }

  /** GET /v1/payments: the newest payments first, with their history. */
  async listPayments(opts: { limit?: number; device?: string } = {}): Promise<PaymentWithHistory[]> {
    const query = new URLSearchParams();
    if (opts.limit !== undefined) query.set('limit', String(opts.limit));
    if (opts.device !== undefined) query.set('device', opts.device);
    const qs = query.size > 0 ? `?${query}` : '';
    return ((await (await this.request('GET', `/v1/payments${qs}`)).json()) as { payments: PaymentWithHistory[] })
      .payments;
  }

  /**
   * Opens GET /v1/events (so a refused token or an unreachable API fails here, at once) and
   * returns its events as they arrive: one item per server-sent event, until the broker ends the
   * stream or `signal` aborts (then it just ends). Comments (`: keepalive`) are skipped.
   */
  async events(opts: { device?: string; signal?: AbortSignal } = {}): Promise<AsyncGenerator<ServerEvent>> {
    const qs = opts.device === undefined ? '' : `?device=${encodeURIComponent(opts.device)}`;
    const res = await this.request('GET', `/v1/events${qs}`, undefined, opts.signal);
    return readServerEvents(res, this.base, opts.signal);
  }

  async device(id: string): Promise<Record<string, unknown>> {
    const res = await this.request('GET', `/v1/devices/${encodeURIComponent(id)}`);
    return ((await res.json()) as { device: Record<string, unknown> }).device;
  }

  /** Puts a firmware release file (its tar.gz, then its JSON) where speakers download it: PUT /v1/firmware/<name>. */
  async uploadFirmware(name: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    await this.request('PUT', `/v1/firmware/${encodeURIComponent(name)}`, new Raw(bytes, 'application/octet-stream'));
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = body instanceof Raw ? body.type : 'application/json';
    const payload = body === undefined ? undefined : body instanceof Raw ? body.bytes : JSON.stringify(body);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body: payload, signal });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiUnreachableError(this.base, cause?.code ?? cause?.message ?? (err as Error).message);
    }
    if (res.ok) return res;
    let error: { code?: string; message?: string; field?: string } = {};
    try {
      error = ((await res.json()) as { error?: typeof error }).error ?? {};
    } catch {
      // Not our API (a proxy's HTML page): the status says enough.
    }
    throw new ApiRequestError(
      res.status,
      error.code ?? `http-${res.status}`,
      error.message ?? `${method} ${path} failed with HTTP ${res.status}`,
      error.field,
    );
  }
}

/** One server-sent event of GET /v1/events: its name (`payment`, `device`) and its JSON data. */
export interface ServerEvent {
  event: string;
  data: unknown;
}

/** A payment as GET /v1/payments lists it and the event stream sends it: with its history. */
export type PaymentWithHistory = PaymentView & { history: PaymentHistoryEntry[] };

async function* readServerEvents(res: Response, base: string, signal?: AbortSignal): AsyncGenerator<ServerEvent> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      // An event ends at a blank line (the SSE spec allows \r\n too; our server writes \n).
      let end: number;
      while ((end = buffered.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end).replace(/^\r?\n\r?\n/, '');
        const event = parseServerEvent(block);
        if (event) yield event;
      }
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw new ApiUnreachableError(base, `the event stream broke: ${(err as Error).message}`);
  } finally {
    reader.releaseLock();
  }
}

/** The `event:` and `data:` lines of one block; null for a comment-only block. */
function parseServerEvent(block: string): ServerEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  const text = data.join('\n');
  try {
    return { event, data: JSON.parse(text) as unknown };
  } catch {
    return { event, data: text };
  }
}

/** A request body sent as it is, not as JSON. */
class Raw {
  constructor(
    readonly bytes: Uint8Array<ArrayBuffer>,
    readonly type: string,
  ) {}
}

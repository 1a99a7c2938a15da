/**
 * A client for the notification service's HTTP API (broker/http, docs/API.md): what `pay`,
 * the demo and the chaos run use, and what a payment backend would write. Plain fetch.
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

  async device(id: string): Promise<Record<string, unknown>> {
    const res = await this.request('GET', `/v1/devices/${encodeURIComponent(id)}`);
    return ((await res.json()) as { device: Record<string, unknown> }).device;
  }

  /** Puts a firmware release file (its tar.gz, then its JSON) where speakers download it: PUT /v1/firmware/<name>. */
  async uploadFirmware(name: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    await this.request('PUT', `/v1/firmware/${encodeURIComponent(name)}`, new Raw(bytes, 'application/octet-stream'));
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = body instanceof Raw ? body.type : 'application/json';
    const payload = body === undefined ? undefined : body instanceof Raw ? body.bytes : JSON.stringify(body);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body: payload });
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

/** A request body sent as it is, not as JSON. */
class Raw {
  constructor(
    readonly bytes: Uint8Array<ArrayBuffer>,
    readonly type: string,
  ) {}
}

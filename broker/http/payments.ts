/**
 * POST /v1/payments, GET /v1/payments/:id and GET /v1/payments: how a payment backend hands a
 * payment to the notification service, follows it to the speaker, and lists the latest ones
 * (the console's first screen). Money arrives as an integer count of minor units plus an
 * ISO 4217 code, and is checked against the currency before anything is stored.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  CHANNELS,
  DEVICE_ID_PATTERN,
  isDeviceId,
  isKnownCurrency,
  KINDS,
  maxMinorUnits,
} from '../../src/protocol/index.ts';
import { IdempotencyConflictError, type Outbox, type Payment, type PaymentRequest } from '../outbox/outbox.ts';
import { isFinal } from '../outbox/status.ts';
import type { NewPayment, PaymentHistoryEntry, PaymentView } from '../../src/api/types.ts';
import { ApiError, type FieldHints } from './errors.ts';
import type { ApiAuth } from './auth.ts';

export const PAYMENT_FIELD_HINTS: FieldHints = {
  device: 'a device id such as "SPK-0001" (letters, digits, "-" or "_")',
  amount: 'a positive integer count of minor units, e.g. 12345 for 123.45 CNY (never a decimal number)',
  currency: 'an ISO 4217 code such as "CNY", "INR" or "USD"',
  channel: `one of ${CHANNELS.map((c) => `"${c}"`).join(', ')}`,
  kind: '"payment" or "refund" (default "payment")',
  idempotencyKey: 'a string of 1-255 printable characters; reuse it when you retry the same payment',
};

const bodySchema = {
  type: 'object',
  required: ['device', 'amount', 'currency', 'channel'],
  additionalProperties: false,
  properties: {
    device: { type: 'string' },
    amount: { type: 'integer', minimum: 1 },
    currency: { type: 'string' },
    channel: { type: 'string', enum: [...CHANNELS] },
    kind: { type: 'string', enum: [...KINDS] },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
  },
} as const;

type PaymentBody = NewPayment;

/** The longest a GET may wait for a final status (?wait=). */
export const MAX_WAIT_MS = 60_000;

/** GET /v1/payments: how many it lists by default, and at most. */
export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 500;

/**
 * A payment with its history: what GET /v1/payments lists, what the event stream sends and,
 * under "payment", what GET /v1/payments/:id answers (which keeps its top-level "history" for
 * the clients written before).
 */
export type PaymentWithHistory = PaymentView & { history: PaymentHistoryEntry[] };

export interface DeviceCheck {
  /** Throws ApiError when payments must not go to this device (unknown, revoked). */
  (device: string): void;
}

export function paymentRoutes(app: FastifyInstance, outbox: Outbox, auth: ApiAuth, checkDevice: DeviceCheck): void {
  app.post<{ Body: PaymentBody }>(
    '/v1/payments',
    { schema: { body: bodySchema }, onRequest: async (req) => auth(req) },
    async (req, reply) => {
      const request = paymentRequest(req);
      checkDevice(request.device);
      let accepted;
      try {
        accepted = await outbox.accept(request);
      } catch (err) {
        if (err instanceof IdempotencyConflictError)
          throw new ApiError(409, 'idempotency-conflict', err.message, 'idempotencyKey');
        throw err;
      }
      const { payment, created } = accepted;
      reply.header('location', `/v1/payments/${payment.id}`);
      if (!created) reply.header('idempotent-replayed', 'true');
      return reply.code(created ? 201 : 200).send({ payment: view(payment) });
    },
  );

  app.get<{ Params: { id: string }; Querystring: { wait?: string } }>(
    '/v1/payments/:id',
    { onRequest: async (req) => auth(req) },
    async (req, reply) => {
      const waitMs = parseWait(req.query.wait);
      const payment = outbox.find(req.params.id);
      if (!payment)
        throw new ApiError(
          404,
          'unknown-payment',
          `no payment ${JSON.stringify(req.params.id)}: use the id POST /v1/payments returned`,
        );
      const settled =
        waitMs > 0 && !isFinal(payment.status) ? await untilFinal(outbox, payment, waitMs, reply.raw) : payment;
      const shown = withHistory(outbox, settled);
      return { payment: shown, history: shown.history };
    },
  );

  app.get<{ Querystring: Record<string, unknown> }>(
    '/v1/payments',
    { onRequest: async (req) => auth(req) },
    async (req) => {
      const q = queryParams(req.query, ['limit', 'device'], 'GET /v1/payments');
      const limit = parseLimit(q.limit);
      if (q.device !== undefined && !DEVICE_ID_PATTERN.test(q.device))
        throw new ApiError(
          400,
          'invalid-device',
          `?device=${JSON.stringify(q.device.slice(0, 80))} is not a device id: use letters, digits, "-" or "_" (e.g. SPK-0001)`,
          'device',
        );
      return { payments: outbox.recent(limit, q.device).map((p) => withHistory(outbox, p)) };
    },
  );
}

/** The payment as the API shows it, with what moved it. */
export function withHistory(outbox: Outbox, p: Payment): PaymentWithHistory {
  return { ...view(p), history: outbox.history(p.id) };
}

/**
 * The query string as single values, refusing a parameter the endpoint does not take (a typo
 * such as ?limt=5 must not be ignored silently) and one given twice.
 */
export function queryParams(query: Record<string, unknown>, allowed: readonly string[], endpoint: string) {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(query)) {
    const name = JSON.stringify(key.slice(0, 40));
    if (!allowed.includes(key))
      throw new ApiError(
        400,
        'unknown-parameter',
        `${endpoint} has no query parameter ${name}: ${allowed.length > 0 ? `it takes ${allowed.join(', ')}` : 'it takes none'}`,
        key.slice(0, 40),
      );
    if (typeof value !== 'string')
      throw new ApiError(400, 'invalid-parameter', `${name} is given more than once: give it once`, key);
    out[key] = value;
  }
  return out;
}

/** "?limit=50": a whole number from 1 to MAX_LIST_LIMIT. */
function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIST_LIMIT;
  const n = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LIST_LIMIT))
    throw new ApiError(
      400,
      'invalid-limit',
      `?limit=${JSON.stringify(text.slice(0, 40))} is not a number of payments from 1 to ${MAX_LIST_LIMIT}: give a whole number such as limit=${DEFAULT_LIST_LIMIT} (the default)`,
      'limit',
    );
  return n;
}

/** The body after the schema: the checks a JSON schema cannot make (currency digits, ranges). */
function paymentRequest(req: FastifyRequest<{ Body: PaymentBody }>): PaymentRequest {
  const b = req.body;
  if (!isDeviceId(b.device))
    throw new ApiError(
      400,
      'invalid-field',
      `"device" is ${JSON.stringify(b.device)}: it must be ${PAYMENT_FIELD_HINTS.device}`,
      'device',
    );
  const currency = b.currency.toUpperCase();
  if (!isKnownCurrency(currency))
    throw new ApiError(
      400,
      'unknown-currency',
      `"currency" is ${JSON.stringify(b.currency)}: it must be ${PAYMENT_FIELD_HINTS.currency}`,
      'currency',
    );
  const max = maxMinorUnits(currency);
  if (b.amount > max) {
    throw new ApiError(
      400,
      'amount-out-of-range',
      `"amount" is ${b.amount} minor units of ${currency}: a speaker reads at most ${max}; split the payment or check the units`,
      'amount',
    );
  }
  const header = req.headers['idempotency-key'];
  const fromHeader = typeof header === 'string' ? header : undefined;
  if (fromHeader !== undefined && b.idempotencyKey !== undefined && fromHeader !== b.idempotencyKey) {
    throw new ApiError(
      400,
      'idempotency-key-mismatch',
      'the Idempotency-Key header and the "idempotencyKey" field differ: send one of them',
      'idempotencyKey',
    );
  }
  const idempotencyKey = fromHeader ?? b.idempotencyKey ?? null;
  if (idempotencyKey !== null && !/^[\x21-\x7E]{1,255}$/.test(idempotencyKey)) {
    throw new ApiError(
      400,
      'invalid-field',
      `the idempotency key must be ${PAYMENT_FIELD_HINTS.idempotencyKey}`,
      'idempotencyKey',
    );
  }
  return {
    device: b.device,
    amount: b.amount,
    currency,
    channel: b.channel,
    kind: b.kind ?? 'payment',
    idempotencyKey,
  };
}

/** "?wait=10" (seconds) or "?wait=10s" / "500ms"; capped at MAX_WAIT_MS. */
function parseWait(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text);
  if (!m)
    throw new ApiError(
      400,
      'invalid-wait',
      `?wait=${text} is not a duration: write seconds (wait=10) or wait=500ms; at most ${MAX_WAIT_MS / 1000} s`,
    );
  return Math.min(MAX_WAIT_MS, Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000)));
}

/** Resolves with the payment once final, or as it is when `waitMs` passes or the client leaves. */
function untilFinal(outbox: Outbox, payment: Payment, waitMs: number, res: ServerResponse): Promise<Payment> {
  return new Promise((resolve) => {
    let latest = payment;
    const finish = () => {
      clearTimeout(timer);
      unwatch();
      res.off('close', finish);
      resolve(outbox.find(payment.id) ?? latest);
    };
    const unwatch = outbox.watch(payment.id, (p) => {
      latest = p;
      if (isFinal(p.status)) finish();
    });
    const timer = setTimeout(finish, waitMs);
    res.on('close', finish);
    // It may have settled between the read and the watch.
    const now = outbox.find(payment.id);
    if (now && isFinal(now.status)) {
      latest = now;
      finish();
    }
  });
}

/** The public shape of a payment: times as epoch milliseconds, as on the wire to devices. */
export function view(p: Payment): PaymentView {
  return {
    id: p.id,
    device: p.device,
    amount: p.amount,
    currency: p.currency,
    channel: p.channel,
    kind: p.kind,
    idempotencyKey: p.idempotencyKey,
    status: p.status,
    attempts: p.attempts,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    expiresAt: p.expiresAt,
    deliveredAt: p.deliveredAt,
    finishedAt: p.finishedAt,
    ...(p.text !== null && { text: p.text }),
    ...(p.reason !== null && { reason: p.reason }),
    ...(p.detail !== null && { detail: p.detail }),
  };
}

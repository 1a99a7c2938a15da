/**
 * Every error the notification API returns has one shape, so a backend can branch on `code`
 * and show `message` (what was wrong, with which value, and what to do) to a person:
 *
 *   { "error": { "code": "invalid-field", "field": "amount", "message": "…" } }
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../src/log.ts';
import { describeValue } from '../../src/protocol/index.ts';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function errorBody(code: string, message: string, field?: string) {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

/** What each request field must be, in words: used for schema errors. */
export type FieldHints = Record<string, string>;

/** Turns framework and schema errors into the one error shape; hides internal errors' details. */
export function installErrorHandling(app: FastifyInstance, log: Logger, hints: FieldHints): void {
  app.setErrorHandler((err: FastifyError | ApiError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      return reply
        .code(err.statusCode)
        .headers(err.headers)
        .send(errorBody(err.code, err.message, err.field));
    }
    if (err.validation) return reply.code(400).send(validationError(err, req, hints));
    const known = frameworkError(err);
    if (known) return reply.code(known.status).send(errorBody(known.code, known.message));
    log.error({ err: err.message, stack: err.stack, url: req.url }, 'notification API failed');
    return reply
      .code(500)
      .send(errorBody('internal', 'the notification service failed; the broker log has the details'));
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send(
        errorBody(
          'not-found',
          `no such endpoint: ${req.method} ${req.url.split('?')[0]}; see docs/API.md (POST /v1/payments, GET /v1/payments/:id, GET /v1/devices/:id)`,
        ),
      ),
  );
}

function validationError(err: FastifyError, req: FastifyRequest, hints: FieldHints) {
  const first = err.validation![0]!;
  const params = first.params as { missingProperty?: string; additionalProperty?: string };
  if (params.missingProperty) {
    const f = params.missingProperty;
    return errorBody('missing-field', `"${f}" is missing: it must be ${hints[f] ?? 'present'}`, f);
  }
  if (params.additionalProperty) {
    const f = params.additionalProperty;
    return errorBody('unknown-field', `unknown field "${f}": the fields are ${Object.keys(hints).join(', ')}`, f);
  }
  const field = first.instancePath.replace(/^\//, '').split('/')[0] ?? '';
  if (!field)
    return errorBody(
      'invalid-body',
      `the request body must be a JSON object with ${Object.keys(hints).join(', ')}; got ${describeValue(req.body)}`,
    );
  const value = (req.body as Record<string, unknown>)[field];
  return errorBody(
    'invalid-field',
    `"${field}" is ${describeValue(value)}: it must be ${hints[field] ?? first.message}`,
    field,
  );
}

function frameworkError(err: FastifyError): { status: number; code: string; message: string } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        code: 'malformed-json',
        message: `the request body is not valid JSON (${err.message}): send a JSON object`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'unsupported-media-type',
        message: 'send the body as JSON with "Content-Type: application/json"',
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'body-too-large',
        message: `the request body is larger than the ${err.message.match(/\d+/)?.[0] ?? ''} bytes a payment needs`,
      };
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
    return { status: err.statusCode, code: 'bad-request', message: err.message };
  return null;
}

/**
 * Every error the notification API returns has one shape, so a backend can branch on `code`
 * and show `message` (what was wrong, with which value, and what to do) to a person:
 *
 *   { "error": { "code": "invalid-field", "field": "amount", "message": "…" } }
 *
 * That includes what fastify and Node's HTTP parser refuse before a route runs: a bad URL, a
 * path segment too long, a body too large or of another type, a request that is not HTTP.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../src/log.ts';
import { describeValue } from '../../src/protocol/index.ts';
import { clip } from '../log-throttle.ts';

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

export interface RequestLimits {
  /** The largest body, in bytes (fastify's bodyLimit). */
  bodyLimit: number;
  /** The longest path parameter, in characters (the router's maxParamLength). */
  maxParamLength: number;
}

/** Turns framework and schema errors into the one error shape; hides internal errors' details. */
export function installErrorHandling(
  app: FastifyInstance,
  log: Logger,
  hints: FieldHints,
  limits: RequestLimits,
): void {
  app.setErrorHandler((err: FastifyError | ApiError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      return reply
        .code(err.statusCode)
        .headers(err.headers)
        .send(errorBody(err.code, err.message, err.field));
    }
    if (err.validation) return reply.code(400).send(validationError(err, req, hints));
    const known = frameworkError(err, req, limits);
    if (known) return reply.code(known.status).send(errorBody(known.code, known.message));
    log.error({ err: err.message, stack: err.stack, url: clip(req.url) }, 'notification API failed');
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
          `no such endpoint: ${req.method} ${clip(req.url.split('?')[0])}; see docs/API.md (POST /v1/payments, GET /v1/payments[/:id], GET /v1/events, GET /v1/devices[/:id], POST /v1/devices/:id/commands, GET /v1/info)`,
        ),
      ),
  );
}

/**
 * fastify's `frameworkErrors` option: the router's refusals (a URL that is not valid
 * percent-encoding, a path parameter over maxParamLength), which never reach setErrorHandler.
 */
export function routerErrorHandler(limits: RequestLimits) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    const known = frameworkError(err, req, limits) ?? {
      status: 500,
      code: 'internal',
      message: 'the notification service failed; the broker log has the details',
    };
    void reply.code(known.status).send(errorBody(known.code, known.message));
  };
}

/**
 * fastify's `clientErrorHandler` option: what Node's HTTP parser refuses (headers too large, a
 * request that is not HTTP/1.1, one that took too long), answered on the raw socket.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request-timeout', 'the request did not arrive in time: send its headers and body without pausing']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'headers-too-large',
            `the request headers are larger than the ${http.maxHeaderSize} bytes the server reads: send fewer or shorter headers (a token and a content type are all the API needs)`,
          ]
        : [
            400,
            'malformed-request',
            `the request is not valid HTTP/1.1 (${clip(err.code ?? err.message, 60)}): check the request line, the headers and Content-Length or Transfer-Encoding (not both)`,
          ];
  const body = JSON.stringify(errorBody(code, message));
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

/**
 * The JSON body parser in place of fastify's: the same refusals, each with what was wrong. A key
 * named `__proto__` or `constructor` anywhere is refused: once copied into another object
 * (a spread, Object.assign) it can change that object's prototype.
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0)
    throw new ApiError(
      400,
      'malformed-json',
      'the request body is empty but its Content-Type is application/json: send a JSON object',
    );
  let forbidden: string | null = null;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      if (key === '__proto__' || key === 'constructor') forbidden ??= key;
      return v;
    });
  } catch (err) {
    throw new ApiError(
      400,
      'malformed-json',
      `the request body is not valid JSON (${clip((err as Error).message, 120)}): send a JSON object`,
    );
  }
  if (forbidden !== null)
    throw new ApiError(
      400,
      'forbidden-key',
      `the request body has a "${forbidden}" key: keys named __proto__ or constructor are refused anywhere in a body (they can tamper with the objects the service builds from it); send only the documented fields`,
    );
  return value;
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

function frameworkError(
  err: FastifyError,
  req: FastifyRequest,
  limits: RequestLimits,
): { status: number; code: string; message: string } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        code: 'malformed-json',
        message: `the request body is not valid JSON (${err.message}): send a JSON object`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const type = req.headers['content-type'];
      return {
        status: 415,
        code: 'unsupported-media-type',
        message: `${type ? `Content-Type ${JSON.stringify(clip(type, 80))} is not accepted` : 'the body has no Content-Type'}: send the body as JSON with "Content-Type: application/json"`,
      };
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: 'body-too-large',
        message: `the request body is larger than ${limits.bodyLimit} bytes: a payment is a few hundred bytes of JSON`,
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        code: 'invalid-content-length',
        message: 'the body is not as long as its Content-Length header says: send the body exactly as declared',
      };
    case 'FST_ERR_BAD_URL':
      return {
        status: 400,
        code: 'malformed-url',
        message: `${JSON.stringify(clip(req.url.split('?')[0], 80))} is not a valid URL: a "%" must start a percent-encoded UTF-8 byte (write a literal "%" as %25)`,
      };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return {
        status: 414,
        code: 'path-too-long',
        message: `a part of the path is longer than ${limits.maxParamLength} characters: device ids, payment ids and firmware file names are all shorter (${JSON.stringify(clip(req.url.split('?')[0], 80))})`,
      };
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
    return { status: err.statusCode, code: 'bad-request', message: `the request was refused: ${clip(err.message)}` };
  return null;
}

/**
 * The error envelope for every non-GraphQL response: `{"success": false, "error": "…"}` with the right status.
 * GraphQL-over-HTTP requests rejected before GraphQL runs (auth, rate limit, body) get `{"errors": [...]}` instead.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { transientDatabaseError } from '../db/conflicts.js';
import { AppError, ErrorCode, httpStatusFor, type ErrorCode as Code } from '../shared/errors.js';

/** Seconds a client is asked to wait before retrying a 503. */
const RETRY_AFTER_UNAVAILABLE = 5;

const FASTIFY_CODES: Record<string, Code> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.BAD_USER_INPUT,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.BAD_USER_INPUT,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PAYLOAD_TOO_LARGE,
  FST_ERR_VALIDATION: ErrorCode.BAD_USER_INPUT,
};

/** Our wording for the Fastify errors whose own message is unhelpful to an API client. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'Malformed JSON in request body',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported Content-Type: send the body as application/json',
};

export function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  const transient = transientDatabaseError(err);
  if (transient) return transient;
  const fe = err as Partial<FastifyError>;
  if (fe.code && FASTIFY_CODES[fe.code]) {
    return new AppError(FASTIFY_CODES[fe.code]!, FASTIFY_MESSAGES[fe.code] ?? fe.message ?? 'Bad request');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError(ErrorCode.BAD_USER_INPUT, fe.message ?? 'Bad request');
  }
  return null;
}

/**
 * Fastify's JSON parser, except that an empty body is no body: clients commonly send `Content-Type:
 * application/json` on a DELETE or a body-less POST (`/api/accounts/{id}/sync`), which Fastify would refuse
 * (FST_ERR_CTP_EMPTY_JSON_BODY). Prototype poisoning is still refused, as by default.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    parse(req, text, done);
  });
}

function isGraphQL(req: FastifyRequest): boolean {
  return req.url.startsWith('/graphql');
}

/** Sends an error in the right envelope. */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
  reply.status(httpStatusFor(err.code));
  if (err.code === ErrorCode.SERVICE_UNAVAILABLE) reply.header('Retry-After', String(RETRY_AFTER_UNAVAILABLE));
  if (err.retryAfter !== undefined) reply.header('Retry-After', String(err.retryAfter));
  if (isGraphQL(req)) return reply.send({ errors: [{ message: err.message, extensions: { code: err.code } }] });
  return reply.send({ success: false, error: err.message });
}

/**
 * Fastify's `frameworkErrors` option: errors raised before routing (a malformed percent-encoding in the path,
 * FST_ERR_BAD_URL) in the same envelope as every other 4xx, instead of Fastify's own shape.
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  sendError(req, reply, toAppError(err) ?? new AppError(ErrorCode.BAD_USER_INPUT, err.message));
}

/**
 * Fastify's `clientErrorHandler` option: requests Node's HTTP parser refuses before Fastify sees them (headers or URL
 * over `maxHeaderSize`, a request that timed out, malformed HTTP) get the documented envelope too, where Fastify's
 * default writes `{"error", "message", "statusCode"}`. The connection is closed afterwards, as Node does.
 */
export function clientErrors(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request headers (or URL) too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request timed out before it was complete']
        : [400, 'Malformed HTTP request'];
  const body = JSON.stringify({ success: false, error: message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const app_ = toAppError(err);
    if (app_?.code === ErrorCode.SERVICE_UNAVAILABLE) req.log.warn({ err: app_.cause ?? app_ }, 'service unavailable; answered 503');
    if (app_) return sendError(req, reply, app_);
    req.log.error({ err }, 'unhandled error');
    return sendError(req, reply, new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error'));
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(req, reply, new AppError(ErrorCode.NOT_FOUND, `No route ${req.method} ${req.url.split('?')[0]}`)),
  );
}

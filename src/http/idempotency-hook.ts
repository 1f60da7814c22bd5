/**
 * `Idempotency-Key` on the REST write routes (POST, PUT, PATCH, DELETE under /api): the first request with a key runs
 * and its answer is kept; a retry with the same key gets that answer again, marked `Idempotent-Replayed: true`,
 * without running (rules in IdempotencyService). Requests without the header are untouched. GraphQL is not covered:
 * one POST /graphql may carry any operation.
 */
import type { FastifyInstance } from 'fastify';
import { requestFingerprint } from '../modules/idempotency/index.js';
import type { Services } from '../modules/services.js';
import { header } from './request-header.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The Idempotency-Key this request claimed and its claim's time (its answer is stored on send). */
    idempotencyClaim: { key: string; claimedAt: string } | null;
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function registerIdempotency(app: FastifyInstance, services: Services): void {
  app.decorateRequest('idempotencyClaim', null);
  // preHandler: after authentication (keys are per API key) and body parsing (the body is part of the fingerprint).
  app.addHook('preHandler', async (req, reply) => {
    const key = header(req, 'idempotency-key');
    if (key === undefined || !req.principal || !WRITES.has(req.method) || !req.url.startsWith('/api/')) return;
    const claim = await services.idempotency.claim(req.principal.keyId, key, requestFingerprint(req.method, req.url, req.body));
    if (claim.kind === 'claimed') {
      req.idempotencyClaim = { key, claimedAt: claim.claimedAt };
      return;
    }
    const { status, contentType, body } = claim.answer;
    reply.header('Idempotent-Replayed', 'true');
    if (contentType) reply.type(contentType);
    return reply.code(status).send(body);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const claim = req.idempotencyClaim;
    if (claim === null || !req.principal) return payload;
    req.idempotencyClaim = null;
    // Every answer of these routes is serialised JSON by now; anything else is not kept (the key is released).
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
    const contentType = reply.getHeader('content-type');
    await services.idempotency
      .complete(req.principal.keyId, claim.key, claim.claimedAt, { status: body === null ? 500 : reply.statusCode, contentType: typeof contentType === 'string' ? contentType : null, body: body ?? '' })
      .catch((err: unknown) => req.log.warn({ err }, 'could not record the answer of an Idempotency-Key request yet; trying again in the background'));
    return payload;
  });
}

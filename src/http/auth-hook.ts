/**
 * Authentication and rate limiting for every route except those marked `config: { public: true }` (health), and
 * requests without a key to routes marked `signedUrl` that carry a signature (the route verifies it). Runs once per
 * request: resolves the principal from X-API-Key / X-API-Secret (failed authentications are throttled per client address
 * and key: 429 with Retry-After), counts the request against the key's per-minute and per-hour budget in PostgreSQL,
 * and sets the X-RateLimit-* headers on every authenticated response.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.js';
import type { Principal } from '../modules/auth/index.js';
import type { Services } from '../modules/services.js';
import { header } from './request-header.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    public?: boolean;
    /** The route also accepts a signed URL (`expires` + `signature`) instead of a key; the route verifies it. */
    signedUrl?: boolean;
  }
}

/** `clientAddress`: the client's address (client-address.ts), for the failed-authentication throttle. */
export function registerAuthHook(app: FastifyInstance, services: Services, clientAddress: (req: IncomingMessage) => string): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.routeOptions.config?.public) return;
    // Unknown routes answer 404 without touching credentials or the budget.
    if (!req.routeOptions.url) return;
    if (req.routeOptions.config?.signedUrl && header(req, 'x-api-key') === undefined && (req.query as { signature?: unknown }).signature !== undefined) return;
    const principal = await services.auth.authenticate(header(req, 'x-api-key'), header(req, 'x-api-secret'), clientAddress(req.raw));
    const rl = await services.rateLimit.hit(principal);
    reply.header('X-RateLimit-Limit', rl.limit);
    reply.header('X-RateLimit-Remaining', rl.remaining);
    reply.header('X-RateLimit-Reset', rl.resetAt);
    if (!rl.allowed) {
      reply.header('Retry-After', rl.retryAfter);
      throw new AppError('RATE_LIMITED', `Rate limit exceeded: ${rl.limit} requests; retry in ${rl.retryAfter} seconds`);
    }
    req.principal = principal;
  });
}

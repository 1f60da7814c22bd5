/**
 * The one HTTP server: GraphQL (Apollo) and graphql-ws at /graphql, the REST compatibility layer at /api, health at
 * /healthz and /readyz. Auth and rate limits run in one hook for every non-public route.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from '@as-integrations/fastify';
import { RequestContext, type MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLSchema } from 'graphql';
import type { Logger as PinoLogger } from 'pino';
import type { Config } from '../config.js';
import { createApollo, GRAPHQL_PATH } from '../graphql/apollo.js';
import { attachGraphQLWs } from '../graphql/ws.js';
import { createOperationRunner } from '../graphql/operation-runner.js';
import { restRoutes } from '../rest/routes/index.js';
import { registerRestRoutes } from '../rest/register.js';
import { createContext, type AppContext } from '../modules/context.js';
import type { Services } from '../modules/services.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import { registerAuthHook } from './auth-hook.js';
import { clientAddressOf, fastifyTrustProxy } from './client-address.js';
import { registerIdempotency } from './idempotency-hook.js';
import { registerAttachmentDownloads } from './attachment-downloads.js';
import { clientErrors, frameworkErrors, registerErrorHandling, registerJsonParser, sendError } from './errors.js';

export interface HttpDeps {
  config: Config;
  log: PinoLogger;
  orm: MikroORM;
  schema: GraphQLSchema;
  services: Services;
  /** Readiness: database reachable and no pending migrations. */
  ready: () => Promise<{ ok: boolean; reason?: string }>;
}

export interface HttpApp {
  app: FastifyInstance;
  /** Stops accepting, closes WebSockets, waits for in-flight requests. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildHttpApp(deps: HttpDeps): Promise<HttpApp> {
  const { config, log, orm, schema, services } = deps;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Requests arriving during a shutdown get our own 503 (below), in the documented envelope.
    return503OnClosing: false,
    frameworkErrors,
    clientErrorHandler: clientErrors,
    forceCloseConnections: 'idle',
    // `/api/emails/` is `/api/emails` (legacy clients build URLs with a trailing slash); it was read as an empty id.
    routerOptions: { ignoreTrailingSlash: true },
    // X-Forwarded-For only from the proxies TRUST_PROXY names (request.ip, the logs' remoteAddress).
    trustProxy: fastifyTrustProxy(config.trustProxy),
    // A client must send its whole request (headers and body) within HTTP_REQUEST_TIMEOUT_MS, else 408 and the
    // connection closes. Fastify turns Node's 300 s default off, so a body trickled a byte at a time held a connection
    // for as long as the client liked. Node looks for late requests every connectionsCheckingInterval (30 s by
    // default): once a second keeps the bound close to what is configured.
    requestTimeout: config.httpRequestTimeoutMs,
    http: { headersTimeout: Math.min(60_000, config.httpRequestTimeoutMs), connectionsCheckingInterval: 1000 },
  });

  // Once close() has begun, a request still arriving (on a keep-alive connection, or pipelined behind one in flight)
  // is answered 503 SERVICE_UNAVAILABLE with Retry-After, and its connection closed: a client or load balancer
  // retries it on another instance. Requests already running are not affected; close() waits for them.
  let closing = false;
  app.addHook('onRequest', async (req, reply) => {
    if (!closing) return;
    reply.header('Connection', 'close');
    return sendError(req, reply, new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The server is shutting down; retry in a moment'));
  });

  // One MikroORM unit of work per request (services use orm.em, which resolves to this fork).
  app.addHook('onRequest', (_req, _reply, done) => RequestContext.create(orm.em, done));
  // Every answer is per API key, and the key travels in X-API-Key, which shared caches do not key on: nothing is
  // stored, unless a route says otherwise (attachment downloads revalidate by ETag).
  app.addHook('onSend', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
    if (!reply.hasHeader('cache-control')) reply.header('Cache-Control', 'no-store');
    // An error answered before the body arrived (401 without credentials, 429, 413…): Node would keep reading and
    // discarding the rest of the body to reuse the connection, so a client without credentials could hold it for as
    // long as it trickles. The connection closes after the answer instead.
    if (reply.statusCode >= 400 && !req.raw.complete) reply.header('Connection', 'close');
  });
  registerErrorHandling(app);
  registerJsonParser(app);
  registerAuthHook(app, services, clientAddressOf(config.trustProxy));
  registerIdempotency(app, services);

  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { public: true } }, async (_req, reply) => {
    const r = await deps.ready();
    reply.status(r.ok ? 200 : 503);
    return r.ok ? { status: 'ready' } : { status: 'not ready', reason: r.reason };
  });

  const apollo = createApollo(schema, config, log, [fastifyApolloDrainPlugin(app)]);
  await apollo.start();
  app.route({
    url: GRAPHQL_PATH,
    method: ['GET', 'POST', 'OPTIONS'],
    handler: fastifyApolloHandler<AppContext>(apollo, {
      context: async (req) => createContext(services, req.principal, String(req.id)),
    }),
  });

  registerRestRoutes(app, restRoutes, createOperationRunner(schema, services, config.apiStatementTimeoutMs));
  registerAttachmentDownloads(app, services);

  // Every connection, for the shutdown below.
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const closeWs = attachGraphQLWs({ server: app.server, path: GRAPHQL_PATH, schema, services, orm, config, log });
  return {
    app,
    close: async () => {
      closing = true;
      await closeWs();
      // app.close() waits for every connection to end, and closes only those idle when it starts: a keep-alive
      // connection whose request finishes during the drain would hold it until the client lets go. Close such
      // connections as they become idle. Node counts a connection that has not sent a byte yet (opened ahead by a
      // browser, a load balancer or an HTTP client's pool) as busy, not idle: it held close() until the client gave
      // up, past SHUTDOWN_TIMEOUT_MS. Those are closed too; no request of theirs has begun.
      const sweep = setInterval(() => {
        app.server.closeIdleConnections();
        for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
      }, 100);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
      }
    },
  };
}

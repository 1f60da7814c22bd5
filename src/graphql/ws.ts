/**
 * graphql-ws on the same port and path as HTTP GraphQL. Authentication happens in `connection_init`
 * (`{ apiKey, apiSecret }`, within WS_CONNECTION_INIT_TIMEOUT_MS, else 4408): missing or invalid credentials close the
 * socket with 4401, a key without `read` with 4403, a client over the failed-authentication throttle with 4429 (every
 * close code has one meaning: WsClose below and README "GraphQL and GraphQL over WebSocket"); the key is checked again before every operation
 * and when it changes (ws-keys.ts), so a revoked key closes its open sockets. Every operation gets its own context,
 * DataLoaders and ORM unit of work, the same validation as HTTP (limits, and introspection and field suggestions off
 * when they are off there), counts against the key's rate limit, and has its errors masked like HTTP.
 * Hostile or broken clients are bounded: WS_MAX_UNAUTHENTICATED_PER_ADDRESS sockets per client address until they
 * authenticate (ws-unauthenticated.ts), WS_MAX_CONNECTIONS_PER_KEY sockets per key, WS_MAX_OPERATIONS operations per
 * socket, WS_MAX_BUFFERED_BYTES of output waiting for a client that does not read (ws-backpressure.ts).
 */
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { RequestContext, type MikroORM } from '@mikro-orm/postgresql';
import { execute, GraphQLError, parse, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { CloseCode, type ExecutionResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import { databaseUnavailableError, isDatabaseUnavailable } from '../db/unavailable.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { hasPermissions, type Principal } from '../modules/auth/index.js';
import { clientAddressOf } from '../http/client-address.js';
import { createContext } from '../modules/context.js';
import type { Services } from '../modules/services.js';
import { MAX_TOKENS, protection } from './apollo.js';
import { formatGraphQLError } from './errors.js';
import { executeWithinTimeout } from './statement-timeout.js';
import { sharedSubscribe } from './shared-execution.js';
import { limitBufferedOutput } from './ws-backpressure.js';
import { SocketKeys, type KeyedSocket } from './ws-keys.js';
import { UnauthenticatedSockets } from './ws-unauthenticated.js';

export interface WsDeps {
  server: Server;
  path: string;
  schema: GraphQLSchema;
  services: Services;
  orm: MikroORM;
  config: Config;
  log: Logger;
}

/**
 * Our close codes besides graphql-ws's own (4400 bad request, 4401 unauthorized, 4403 forbidden, 4408 no
 * connection_init in time, 4409 an operation id in use, 4500 internal error). 4429 once had three meanings: the
 * failed-authentication throttle, the per-key socket limit and graphql-ws's "Too many initialisation requests" (a
 * second connection_init, now 4400 like any other protocol violation); a client could not tell whether to wait for the
 * throttle window, retry soon, or fix a bug. graphql-ws clients give up on 4429 (as on 4401) and retry 4430 and 4431
 * with backoff.
 */
export const WsClose = {
  /** Too many failed authentications from the client's address or with the key (AUTH_FAILURES_PER_*). */
  AuthThrottled: 4429,
  /** The key already has WS_MAX_CONNECTIONS_PER_KEY sockets open on this instance. */
  TooManyKeyConnections: 4430,
  /** The client's address already has WS_MAX_UNAUTHENTICATED_PER_ADDRESS sockets that have not authenticated. */
  TooManyUnauthenticated: 4431,
} as const;

/**
 * Operations one socket may have running (subscriptions, and queries until their result is sent). A dashboard needs a
 * handful; without a bound, one socket could pile up subscriptions for as long as its key's rate limit let it, each
 * costing memory and a filter call per event.
 */
export const WS_MAX_OPERATIONS = 100;

/** True when more than `max` operations are registered (graphql-ws registers one before calling onSubscribe). */
function tooMany(subscriptions: Record<string, unknown>, max: number): boolean {
  let n = 0;
  for (const _ in subscriptions) if (++n > max) return true;
  return false;
}

/**
 * ws throws on a close reason over 123 bytes, and graphql-ws puts the client's operation id in one (4409 "Subscriber
 * for <id> already exists"): a long id became an internal error (4500, a stack trace on stderr). Reasons are clipped.
 */
function clipCloseReasons(socket: WebSocket): void {
  const close = socket.close.bind(socket);
  socket.close = (code?: number, reason?: string | Buffer) =>
    // 118 bytes, a cut character decoded as U+FFFD (3 bytes) and an ellipsis (3 bytes): at most 123.
    close(ownCode(code, reason), typeof reason === 'string' && Buffer.byteLength(reason) > 123 ? `${Buffer.from(reason).subarray(0, 118).toString()}…` : reason);
}

/** graphql-ws closes a second connection_init with 4429, our throttle's code (WsClose): it is a protocol error, 4400. */
function ownCode(code: number | undefined, reason: string | Buffer | undefined): number | undefined {
  return code === CloseCode.TooManyInitialisationRequests && reason === 'Too many initialisation requests' ? CloseCode.BadRequest : code;
}

/** How long a shutdown waits for clients to answer the close frame before dropping their connections. */
const CLOSE_HANDSHAKE_GRACE_MS = 1000;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Attaches graphql-ws to the HTTP server; returns a function that closes every socket. */
export function attachGraphQLWs(deps: WsDeps): () => Promise<void> {
  const { server, schema, services, orm, config, log } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.wsMaxPayloadBytes });
  const guard = protection(config.graphql);
  const format = (e: GraphQLError) => formatGraphQLError(e.toJSON(), e, log);
  const inContext = <T>(fn: () => T): T => RequestContext.create(orm.em, fn);
  const keys = new SocketKeys({ auth: services.auth, log, inContext });
  const clientAddress = clientAddressOf(config.trustProxy);
  const unauthenticated = new UnauthenticatedSockets(config.wsMaxUnauthenticatedPerAddress);
  wss.on('connection', (socket, request) => {
    clipCloseReasons(socket);
    limitBufferedOutput(socket, config.wsMaxBufferedBytes, (buffered) =>
      log.warn({ client: clientAddress(request), buffered }, 'WebSocket dropped: the client does not read what is sent to it'),
    );
  });
  /**
   * The socket's principal, checked again (cheap: the auth cache, which every instance empties when a key changes, so
   * a key revoked since connection_init starts nothing), with its rate-limit charge; null once the socket was closed.
   */
  const admit = async (socket: KeyedSocket) => {
    const principal = await keys.check(socket);
    return principal && { principal, decision: await inContext(() => services.rateLimit.hit(principal)) };
  };

  const handle = useServer<Record<string, unknown> | undefined>(
    {
      schema,
      connectionInitWaitTimeout: config.wsConnectionInitTimeoutMs,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const { socket, request } = ctx.extra;
        try {
          const [publicKey, secret] = [str(params.apiKey), str(params.apiSecret)];
          const principal = await inContext(() => services.auth.authenticate(publicKey, secret, clientAddress(request)));
          if (!hasPermissions(principal, ['read'])) {
            socket.close(CloseCode.Forbidden, 'Forbidden: the API key lacks the read permission');
            return false;
          }
          if (keys.connections(principal.keyId) >= config.wsMaxConnectionsPerKey) {
            // One key holding sockets without end (a client reconnecting in a loop without closing) would take every
            // file descriptor of the process, HTTP included. Final for graphql-ws clients, as 4401 is.
            socket.close(WsClose.TooManyKeyConnections, `Too many connections with this API key (at most ${config.wsMaxConnectionsPerKey} per instance)`);
            return false;
          }
          keys.add(socket, { publicKey: publicKey!, secret: secret! }, principal);
          unauthenticated.authenticated(socket);
          return true;
        } catch (err) {
          if (isDatabaseUnavailable(err)) {
            // Not the client's credentials: 1013 "try again later", so that it reconnects instead of giving up.
            log.warn({ err }, 'WebSocket refused: database unavailable');
            socket.close(1013, 'Try again later: the database is unavailable');
            return false;
          }
          if (err instanceof AppError && err.code === ErrorCode.RATE_LIMITED) {
            // Too many failed authentications from this address or with this key: final for graphql-ws clients as
            // 4401 is (they do not retry it); the reason says how long to wait.
            socket.close(WsClose.AuthThrottled, err.message);
            return false;
          }
          if (!(err instanceof AppError)) log.error({ err }, 'WebSocket authentication failed');
          socket.close(4401, 'Unauthorized');
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        if (tooMany(ctx.subscriptions, WS_MAX_OPERATIONS)) {
          const message = `Too many operations on this socket (at most ${WS_MAX_OPERATIONS} at once); complete some first`;
          return [new GraphQLError(message, { extensions: { code: 'RATE_LIMITED' } })];
        }
        let admitted;
        try {
          admitted = await admit(ctx.extra.socket);
        } catch (err) {
          if (!isDatabaseUnavailable(err)) throw err;
          const e = databaseUnavailableError(err);
          return [new GraphQLError(e.message, { extensions: { code: e.code } })];
        }
        if (!admitted) return [new GraphQLError('The API key was revoked or is no longer valid', { extensions: { code: 'UNAUTHENTICATED' } })];
        const { principal, decision } = admitted;
        if (!decision.allowed) {
          return [new GraphQLError(`Rate limit exceeded; retry in ${decision.retryAfter} s`, { extensions: { code: 'RATE_LIMITED' } })];
        }
        let document;
        try {
          document = parse(payload.query, { maxTokens: MAX_TOKENS });
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('Syntax error')];
        }
        const errors = guard.validate(schema, document);
        if (errors.length > 0) return [...errors];
        const args: ExecutionArgs = {
          schema,
          document,
          variableValues: payload.variables ?? undefined,
          operationName: payload.operationName ?? undefined,
          contextValue: createContext(services, principal, randomUUID()),
        };
        return args;
      },
      execute: (args: ExecutionArgs) =>
        inContext(() => executeWithinTimeout(config.apiStatementTimeoutMs, args.document, args.operationName, () => execute(args))),
      // One execution per event for all of a key's subscribers with the same operation (see shared-execution.ts).
      subscribe: (args: ExecutionArgs) =>
        inContext(() => sharedSubscribe(args, String((args.contextValue as { principal?: Principal }).principal?.keyId ?? ''))),
      onNext: (_ctx, _id, _payload, _args, result) => {
        const r = result as ExecutionResult;
        if (!r.errors) return undefined;
        return { ...r, errors: r.errors.map((e) => format(e as GraphQLError)) } as unknown as ExecutionResult;
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e as GraphQLError)) as unknown as readonly GraphQLError[],
    },
    wss,
  );

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== deps.path) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!unauthenticated.admit(ws, clientAddress(req))) {
        // Never handed to graphql-ws. The close frame says why; a client that does not answer it is dropped soon
        // instead of after ws's 30 s close timeout, which would let it hold the sockets the bound is about.
        ws.on('error', () => undefined);
        ws.close(WsClose.TooManyUnauthenticated, `Too many connections from this address waiting to authenticate (at most ${config.wsMaxUnauthenticatedPerAddress})`);
        setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_GRACE_MS).unref();
        log.debug({ client: clientAddress(req) }, 'WebSocket refused: too many unauthenticated sockets from this address');
        return;
      }
      wss.emit('connection', ws, req);
      // graphql-ws's 'error' handler (attached during 'connection') prints a stack trace to stderr as an "internal
      // error" for what are client protocol errors (a frame over WS_MAX_PAYLOAD_BYTES, invalid UTF-8, an unmasked
      // frame…), for any client, with no credentials needed. ws itself closes such a socket with the matching code.
      ws.removeAllListeners('error');
      ws.on('error', (err: Error & { code?: string }) => log.debug({ client: clientAddress(req), code: err.code, reason: err.message }, 'WebSocket protocol error'));
    });
  });

  return async () => {
    keys.dispose();
    // dispose() sends every client a 1001 close frame and waits until all have closed. A client that does not answer
    // (its network gone, or it stopped reading) would hold it for ws's 30 s close timeout, past SHUTDOWN_TIMEOUT_MS.
    const cutOff = setTimeout(() => {
      for (const client of wss.clients) client.terminate();
    }, CLOSE_HANDSHAKE_GRACE_MS);
    try {
      await handle.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    } finally {
      clearTimeout(cutOff);
    }
  };
}

/**
 * Registers the route table on Fastify. Each request coerces its inputs, executes the route's GraphQL operation
 * in-process with the caller's context (same schema, same resolvers, same rules as /graphql), and wraps the result in
 * `{"success": true, ...}`; GraphQL errors become `{"success": false, "error": "…"}` with the matching status.
 */
import type { FastifyInstance, RouteHandlerMethod } from 'fastify';
import { GraphQLError, Kind, type DocumentNode } from 'graphql';
import { transientDatabaseError } from '../db/conflicts.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { OperationRunner } from '../graphql/operation-runner.js';
import type { RestRoute } from './route.js';

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** GraphQL's input-coercion messages in the REST spelling (`Field "syncFolders" … not provided` → `sync_folders: is required`). */
function restMessage(message: string): string {
  const missing = /Field "(\w+)" of required type "[^"]+" was not provided\.$/.exec(message);
  if (missing) return `${snake(missing[1]!)}: is required`;
  const isNull = /Expected non-nullable type "?[^"\s]+"? not to be null at value\.(\w+)/.exec(message);
  if (isNull) return `${snake(isNull[1]!)}: is required`;
  // Anchored (graphql-js and graphql-jit both start these messages so): unanchored, the lazy value was retried from
  // every "got invalid value" the printed value held, each to the end of the message (cubic).
  const invalid = /^Variable "\$\w+" got invalid value .*? at "\w+\.(\w+)(?:\[\d+\])?"; ([\s\S]*)$/.exec(message);
  if (invalid) return `${snake(invalid[1]!)}: ${invalid[2]}`;
  // graphql-js prints the whole variable, which for an account holds its password: keep only the reason.
  const other = /^Variable "\$(\w+)" got invalid value [\s\S]*?; ([\s\S]*)$/.exec(message);
  if (other) return `${snake(other[1]!)}: ${other[2]}`;
  return message;
}

/** The AppError behind GraphQL errors; input-coercion errors are bad input (all named); anything else is internal. */
function errorOf(errors: readonly GraphQLError[], log: Logger): AppError {
  const causes = errors.map((err) => {
    let cur: unknown = err;
    while (cur instanceof GraphQLError && cur.originalError) cur = cur.originalError;
    return cur;
  });
  const appError = causes.find((c) => c instanceof AppError);
  if (appError) return appError as AppError;
  const transient = causes.map(transientDatabaseError).find((e) => e !== undefined);
  if (transient) return transient;
  if (causes.every((c) => c instanceof GraphQLError)) {
    return AppError.badInput(causes.map((c) => restMessage((c as GraphQLError).message)).join('; '));
  }
  log.error({ err: causes.find((c) => !(c instanceof GraphQLError)) }, 'unhandled error in REST operation');
  return new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
}

/** A GET whose document is a mutation must say what answers HEAD instead (`RestRoute.head`); checked at start-up. */
function isMutation(document: DocumentNode): boolean {
  return document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'mutation');
}

export function registerRestRoutes(app: FastifyInstance, routes: readonly RestRoute[], runner: OperationRunner): void {
  for (const r of routes) {
    try {
      runner.check(r.operation);
      if (r.head) runner.check(r.head.operation);
      if (r.method === 'GET' && isMutation(r.operation) && !r.head) throw new Error('runs a mutation, so HEAD needs a side-effect-free `head`');
    } catch (err) {
      throw new Error(`REST route ${r.method} ${r.path}: ${(err as Error).message}`);
    }
    // Without an explicit `head`, Fastify answers HEAD by running the GET handler (safe for queries).
    app.route({ method: r.method, url: r.path, exposeHeadRoute: !r.head, handler: handlerOf(r.operation, r.respond, r, runner) });
    if (r.head) app.route({ method: 'HEAD', url: r.path, handler: handlerOf(r.head.operation, r.head.respond, r, runner) });
  }
}

/** Runs `operation` with the route's variables and maps its result with `respond` (GET/POST/… and HEAD alike). */
function handlerOf(operation: DocumentNode, respond: RestRoute['respond'], r: RestRoute, runner: OperationRunner): RouteHandlerMethod {
  return async (req, reply) => {
    runner.authorize(req.principal, operation);
    const variables = r.variables({
      params: req.params as Record<string, string>,
      query: (req.query ?? {}) as Record<string, unknown>,
      body: req.body,
    });
    const result = await runner.run(operation, variables as Record<string, unknown>, req.principal, String(req.id));
    if (result.errors && result.errors.length > 0) throw errorOf(result.errors, req.log);
    const { headers, ...out } = respond(result.data);
    reply.status(r.status ?? 200);
    if (headers) reply.headers(headers);
    return { success: true, ...out };
  };
}

/**
 * Registers the route table on Fastify. Each request coerces its inputs, executes the route's GraphQL operation
 * in-process with the caller's context (same schema, same resolvers, same rules as /graphql), and wraps the result in
 * `{"success": true, ...}`; GraphQL errors become `{"success": false, "error": "…"}` with the matching status.
 */
import type { FastifyInstance } from 'fastify';
import { GraphQLError } from 'graphql';
import { databaseUnavailableError, isDatabaseUnavailable } from '../db/unavailable.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { OperationRunner } from '../graphql/operation-runner.js';
import type { RestRoute } from './route.js';

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** GraphQL's input-coercion messages in the REST spelling (`Field "syncFolders" … not provided` → `sync_folders: is required`). */
function restMessage(message: string): string {
  const missing = /^Field "(\w+)" of required type "[^"]+" was not provided\.$/.exec(message);
  if (missing) return `${snake(missing[1]!)}: is required`;
  const invalid = /got invalid value .*? at "\w+\.(\w+)(?:\[\d+\])?"; (.*)$/.exec(message);
  if (invalid) return `${snake(invalid[1]!)}: ${invalid[2]}`;
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
  const unavailable = causes.find(isDatabaseUnavailable);
  if (unavailable) return databaseUnavailableError(unavailable);
  if (causes.every((c) => c instanceof GraphQLError)) {
    return AppError.badInput(causes.map((c) => restMessage((c as GraphQLError).message)).join('; '));
  }
  log.error({ err: causes.find((c) => !(c instanceof GraphQLError)) }, 'unhandled error in REST operation');
  return new AppError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
}

export function registerRestRoutes(app: FastifyInstance, routes: readonly RestRoute[], runner: OperationRunner): void {
  for (const r of routes) {
    try {
      runner.check(r.operation);
    } catch (err) {
      throw new Error(`REST route ${r.method} ${r.path}: ${(err as Error).message}`);
    }
    app.route({
      method: r.method,
      url: r.path,
      handler: async (req, reply) => {
        runner.authorize(req.principal, r.operation);
        const variables = r.variables({
          params: req.params as Record<string, string>,
          query: (req.query ?? {}) as Record<string, unknown>,
          body: req.body,
        });
        const result = await runner.run(r.operation, variables as Record<string, unknown>, req.principal, String(req.id));
        if (result.errors && result.errors.length > 0) throw errorOf(result.errors, req.log);
        const out = r.respond(result.data);
        reply.status(r.status ?? 200);
        return { success: true, ...out };
      },
    });
  }
}

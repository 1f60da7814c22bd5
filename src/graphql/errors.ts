/**
 * Maps errors to GraphQL: AppError → its code in `extensions.code`; GraphQL validation/parse errors keep their codes;
 * an unreachable database is SERVICE_UNAVAILABLE; anything else is logged and masked as INTERNAL_SERVER_ERROR (no stack
 * traces, no SQL).
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { transientDatabaseError } from '../db/conflicts.js';
import { AppError, ErrorCode, isErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** The non-GraphQL error behind a GraphQLError (a resolver's throw), or undefined for GraphQL's own errors. */
function originalOf(error: unknown): unknown {
  let cur: unknown = error;
  while (cur instanceof GraphQLError && cur.originalError) cur = cur.originalError;
  return cur instanceof GraphQLError ? undefined : cur;
}

/** Formats one error for the response; `log` receives real faults. */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown, log: Logger): GraphQLFormattedError {
  const original = originalOf(error);
  if (original instanceof AppError) {
    return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { code: original.code } };
  }
  // type-graphql's argument validation and graphql-js's own coercion errors are user input problems.
  if (original && (original as { name?: string }).name === 'ArgumentValidationError') {
    return { ...formatted, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  const code = formatted.extensions?.code;
  if (!original && typeof code === 'string') return formatted;
  if (!original && error instanceof GraphQLError) {
    return { ...formatted, extensions: { ...formatted.extensions, code: isErrorCode(code) ? code : 'GRAPHQL_VALIDATION_FAILED' } };
  }
  const e = transientDatabaseError(original);
  if (e) {
    log.warn({ err: original, path: formatted.path }, `${e.message} (GraphQL resolver)`);
    return { message: e.message, locations: formatted.locations, path: formatted.path, extensions: { code: e.code } };
  }
  log.error({ err: original ?? error, path: formatted.path }, 'unhandled error in GraphQL resolver');
  return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}

/**
 * Maps errors to GraphQL: AppError → its code in `extensions.code`; GraphQL validation/parse errors keep their codes;
 * an unreachable database is SERVICE_UNAVAILABLE; anything else is logged and masked as INTERNAL_SERVER_ERROR (no stack
 * traces, no SQL).
 */
import { GraphQLError, print, type GraphQLFormattedError } from 'graphql';
import { transientDatabaseError } from '../db/conflicts.js';
import { AppError, ErrorCode, isErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** The non-GraphQL error behind a GraphQLError (a resolver's throw), or undefined for GraphQL's own errors. */
function originalOf(error: unknown): unknown {
  let cur: unknown = error;
  while (cur instanceof GraphQLError && cur.originalError) cur = cur.originalError;
  return cur instanceof GraphQLError ? undefined : cur;
}

/** Input fields holding secrets (an account's password, a webhook's signing secret). */
const SECRET_FIELDS = ['password', 'secret'];
// Literals, in step with SECRET_FIELDS: test/unit/regex-safety.test.ts checks every regex of src/, only literals.
const HOLDS_SECRET = /\b(?:password|secret): /;
const HIDDEN = '(not shown)';

/**
 * graphql-js's variable coercion errors print the invalid value, twice for a scalar (`Variable "$i" got invalid value
 * 987654321 at "i.password"; String cannot represent a non string value: 987654321`), and the whole input object,
 * password included, when one of its fields is missing or unknown. Where the value is a secret field or holds one,
 * it is left out; the message still says where and what is wrong. `reason` is the message of the error's
 * originalError (the part after `; `); without it, the whole value part is left out.
 */
export function hideSecretValues(message: string, reason: string | undefined): string {
  const head = /^Variable "\$\w+" got invalid value /.exec(message)?.[0];
  if (!head) return message;
  if (reason === undefined || !message.endsWith(`; ${reason}`)) {
    return SECRET_FIELDS.some((f) => message.includes(f)) ? `${head}${HIDDEN}` : message;
  }
  // `${head}${printed}${at}; ${reason}`, where `at` names the path (` at "i.password"`) when the value is inside one.
  const valueAndPath = message.slice(head.length, message.length - reason.length - 2);
  const at = / at "([^"]+)"$/.exec(valueAndPath);
  const printed = at ? valueAndPath.slice(0, at.index) : valueAndPath;
  const field = at?.[1]!.split('.').at(-1)!.replace(/\[\d+\]$/, '');
  if (!(field !== undefined && SECRET_FIELDS.includes(field)) && !HOLDS_SECRET.test(printed)) return message;
  return `${head}${HIDDEN}${at?.[0] ?? ''}; ${reason.split(printed).join(HIDDEN)}`;
}

const NAMES_SECRET = /\b(?:password|secret)\s*:\s*$/;

/**
 * A literal of the wrong type in the document itself (`password: 987654321`): validation prints it back as well
 * (`String cannot represent a non string value: 987654321`). Left out when the field the literal is given to is secret.
 */
export function hideSecretLiteral(message: string, error: unknown): string {
  if (!(error instanceof GraphQLError)) return message;
  const node = error.nodes?.[0];
  const body = error.source?.body;
  if (!node?.loc || body === undefined || !node.kind.endsWith('Value')) return message;
  if (!NAMES_SECRET.test(body.slice(Math.max(0, node.loc.start - 200), node.loc.start))) return message;
  return message.split(print(node)).join(HIDDEN);
}

/** Formats one error for the response; `log` receives real faults. */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown, log: Logger): GraphQLFormattedError {
  const reason = error instanceof GraphQLError ? error.originalError?.message : undefined;
  formatted = { ...formatted, message: hideSecretLiteral(hideSecretValues(formatted.message, reason), error) };
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

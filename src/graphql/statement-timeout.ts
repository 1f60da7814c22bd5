/**
 * The API's reads run under API_STATEMENT_TIMEOUT_MS (db/statement-timeout.ts): every GraphQL `query` operation, over
 * HTTP (REST GETs, /graphql) and the WebSocket. Mutations (a sync request, an account deleted with its mail) and
 * subscriptions keep the server's default.
 */
import { getOperationAST, type DocumentNode } from 'graphql';
import { withStatementTimeout } from '../db/statement-timeout.js';

/** Runs `fn` (an operation's execution) under the timeout when the operation of `document` it runs is a query. */
export function executeWithinTimeout<T>(timeoutMs: number, document: DocumentNode, operationName: string | null | undefined, fn: () => T): T {
  return getOperationAST(document, operationName ?? undefined)?.operation === 'query' ? withStatementTimeout(timeoutMs, fn) : fn();
}

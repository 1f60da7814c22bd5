/**
 * A statement timeout for the API's reads (API_STATEMENT_TIMEOUT_MS). A pathological read — a search with hundreds of
 * `or` terms, a rare word on a small page, a deep page of a partial-subject match — could run for seconds to minutes
 * at 100k+ emails, holding one of the pool's few connections and a core all along; a handful of them stalled every
 * request of every key. Statements that run on behalf of an API read (`withStatementTimeout`, set around the
 * execution of GraphQL `query` operations: REST GETs, /graphql and the WebSocket) are cancelled by PostgreSQL past
 * the timeout (SQLSTATE 57014), which the API answers 503 with Retry-After (db/conflicts.ts).
 *
 * The pool is shared with the sync engine, migrations and other background work, which must keep the server's
 * default. So the timeout is a session setting changed on a connection only when it is reserved for a statement that
 * wants another value than the connection has (`onReserveConnection`): no extra round trip while a connection keeps
 * serving the same kind of work, one `SET` / `RESET` when it changes hands.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { CompiledQuery } from 'kysely';

/**
 * The timeout (ms) wanted by the statements of the current async context; undefined: the server's default; ANY:
 * whatever the connection has (`withAnyStatementTimeout`).
 */
const ANY = -1;
const wanted = new AsyncLocalStorage<number>();

/** What each pooled connection was set to (absent: the server's default, as a new connection has). */
const current = new WeakMap<object, number>();

interface Connection {
  executeQuery(query: CompiledQuery): Promise<unknown>;
}

/** Runs `fn` with every statement it issues (through the ORM's pool) limited to `ms`; 0 or less: no limit set. */
export function withStatementTimeout<T>(ms: number, fn: () => T): T {
  return ms > 0 ? wanted.run(Math.floor(ms), fn) : fn();
}

/**
 * Runs `fn` with its statements taking the timeout of whatever connection they get, the server's default or an API
 * read's: for the key check and rate-limit count of every request, a short upsert that runs just before the request's
 * own statements. Setting and resetting the timeout around it, when a connection alternates between the two, was two
 * round trips per API read; a counter upsert that waits past an API read's timeout is answered 503 like that read.
 */
export function withAnyStatementTimeout<T>(fn: () => T): T {
  return wanted.run(ANY, fn);
}

/** MikroORM's `onReserveConnection`: brings the connection's statement_timeout to what the caller's context wants. */
export async function reserveWithStatementTimeout(connection: unknown): Promise<void> {
  const c = connection as Connection;
  const want = wanted.getStore();
  if (want === ANY || current.get(c) === want) return;
  await c.executeQuery(CompiledQuery.raw(want === undefined ? 'RESET statement_timeout' : `SET statement_timeout = ${want}`));
  if (want === undefined) current.delete(c);
  else current.set(c, want);
}

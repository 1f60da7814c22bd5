/**
 * Whether an error means "the database cannot be reached right now" (down, restarting, refusing connections,
 * connection dropped) rather than a fault in the statement or in our code. The edges answer such errors with 503 and
 * `Retry-After` instead of a masked 500, and the sync engine retries them without blaming the IMAP server.
 */
import { ConnectionException, DriverException } from '@mikro-orm/core';
import { AppError, causeChain, ErrorCode } from '../shared/errors.js';
import { codeOf } from './sql-errors.js';

/** Socket-level failures: only meaningful with evidence that the socket was the database's (see below). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATEs of an unavailable server: class 08 (connection exception), shutdown / starting up, too many connections.
 * Not 08P01 (protocol_violation): PostgreSQL's answer to a statement it cannot read, such as a parameter with a NUL
 * byte. The connection still works; the request was at fault, and a 503 with Retry-After would only invite a retry.
 */
const UNAVAILABLE_SQLSTATE = /^(08\d{3}|57P0[123]|53300)$/;
/** node-postgres's own messages for a lost or unusable connection. */
const PG_MESSAGES = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed)/;

/** Where the database listens (`host:port`, and the port alone), for socket errors raised below the ORM. */
const endpoints = new Set<string>();

/** Records the database's address (openDatabase calls it): a socket error naming it is the database's. */
export function registerDatabaseEndpoint(url: string): void {
  try {
    const u = new URL(url);
    endpoints.add(`:${u.port || '5432'}`);
    endpoints.add(u.hostname);
  } catch {
    // Not a URL (a socket path, say): only the ORM-wrapped and PostgreSQL-coded errors are recognised then.
  }
}

/** A socket error that names the database's port (connect) or host (DNS lookup). */
function namesDatabase(err: object): boolean {
  const e = err as { port?: unknown; hostname?: unknown };
  return (e.port !== undefined && endpoints.has(`:${String(e.port)}`)) || (typeof e.hostname === 'string' && endpoints.has(e.hostname));
}

/** Errors a PostgreSQL connection of ours emitted (db/pg-guard.ts), e.g. `read ECONNRESET`, which names no address. */
const fromConnections = new WeakSet<object>();

/**
 * Records that `err` broke one of our PostgreSQL connections. node-postgres rejects the query in flight with the same
 * error object before it emits it on the client, and the rejection is handled later (a microtask): by then it is
 * known. Without this, a connection reset mid-query (a network cut, a failover, a crashed server: no FATAL message
 * first) was a 500 "Internal server error" instead of a 503 with Retry-After.
 */
export function markConnectionError(err: unknown): void {
  if (err && typeof err === 'object') fromConnections.add(err);
}

/** A socket-level failure (refused, reset, timed out, unreachable, name not resolving), wherever it came from. */
export function isSocketError(err: unknown): boolean {
  const code = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && SOCKET_CODES.has(code);
}

export function isDatabaseUnavailable(err: unknown): boolean {
  for (const cur of causeChain(err)) {
    if (cur instanceof ConnectionException) return true;
    const code = codeOf(cur);
    const message = (cur as { message?: unknown }).message;
    if (code && UNAVAILABLE_SQLSTATE.test(code)) return true;
    if (typeof message === 'string' && PG_MESSAGES.test(message)) return true;
    // MikroORM wraps what the driver threw in its own queries, so a socket code on a DriverException is the
    // database's; raw statements (connection.execute) surface node-postgres's error as is.
    if (code && SOCKET_CODES.has(code) && (cur instanceof DriverException || namesDatabase(cur) || fromConnections.has(cur))) return true;
  }
  return false;
}

/** How the API reports it: 503, the client may retry. */
export function databaseUnavailableError(cause: unknown): AppError {
  return new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; retry shortly', undefined, { cause });
}

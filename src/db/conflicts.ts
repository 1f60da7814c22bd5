/**
 * Transactions PostgreSQL aborted because of a concurrent one: a deadlock (40P01) or a serialization failure (40001).
 * Nothing of the aborted transaction was written, so running it again is safe and usually succeeds at once.
 *
 * Writers of several rows lock them in id order (rows.ts), which rules out the deadlocks we know of; this is the
 * second line. The API's own transactions run again a few times (`retryOnConflict`), and a conflict that outlasts
 * them — or one in a statement that is not retried — reaches the client as a 503 with Retry-After
 * (`transientDatabaseError`), never as a masked 500: the request was fine, it only met another one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, ErrorCode } from '../shared/errors.js';
import { diskFullMessage, sqlStateOf } from './sql-errors.js';
import { databaseUnavailableError, isDatabaseUnavailable } from './unavailable.js';

const CONFLICT_SQLSTATES = new Set(['40001', '40P01']);
/** query_canceled: past the statement timeout (API_STATEMENT_TIMEOUT_MS, statement-timeout.ts), or cancelled by an operator. */
const CANCELED_SQLSTATE = '57014';

/** Whether `err` (or an error it wraps) is a transaction PostgreSQL aborted for a concurrent one. */
export function isTransactionConflict(err: unknown): boolean {
  const code = sqlStateOf(err);
  return code !== undefined && CONFLICT_SQLSTATES.has(code);
}

/** Runs a whole transaction again when PostgreSQL aborted it for a conflict, up to `attempts` times in all. */
export async function retryOnConflict<T>(transaction: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (err) {
      if (attempt >= attempts || !isTransactionConflict(err)) throw err;
      // A few milliseconds, jittered: the other transaction usually commits meanwhile, and two retrying ones part.
      await sleep(attempt * (5 + Math.random() * 20));
    }
  }
}

/**
 * The API's answer to a database error that is nobody's fault and passes: the database is unreachable or out of
 * disk space, the request's transaction met a concurrent one, or its statement ran past the timeout (a costly query,
 * or a loaded server). A 503 with Retry-After each time; `undefined` for any other error.
 */
export function transientDatabaseError(err: unknown): AppError | undefined {
  if (isDatabaseUnavailable(err)) return databaseUnavailableError(err);
  if (diskFullMessage(err) !== undefined) {
    return new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is out of disk space; retry once there is space again', undefined, { cause: err });
  }
  if (sqlStateOf(err) === CANCELED_SQLSTATE) {
    return new AppError(
      ErrorCode.SERVICE_UNAVAILABLE,
      'The query took too long and was cancelled; narrow it (a filter, fewer search terms, an earlier page) or retry later',
      undefined,
      { cause: err },
    );
  }
  if (isTransactionConflict(err)) {
    return new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The request conflicted with a concurrent change; retry it', undefined, { cause: err });
  }
  return undefined;
}

/**
 * What PostgreSQL said about a statement it refused, found through the wrappers (MikroORM's DriverException, our
 * AppError causes). Used to tell "the database refused this content" from "the database is gone" (unavailable.ts)
 * and from IMAP failures, which the sync engine reports very differently.
 */
import { causeChain } from '../shared/errors.js';

/** Five digits or capitals; not a Node errno code such as EPIPE (no SQLSTATE class starts with E). */
const SQLSTATE = /^(?!E)[0-9A-Z]{5}$/;

/** The SQLSTATE of `err` or of an error it wraps (MikroORM keeps it as `sqlState`, node-postgres as `code`). */
export function sqlStateOf(err: unknown): string | undefined {
  for (const cur of causeChain(err)) {
    const e = cur as { code?: unknown; sqlState?: unknown };
    const code = typeof e.sqlState === 'string' ? e.sqlState : e.code;
    if (typeof code === 'string' && SQLSTATE.test(code)) return code;
  }
  return undefined;
}

/**
 * A statement refused for the values it carried: class 22 (data exception: a value too long, out of range, badly
 * encoded) or 54 (program limit exceeded: an index entry over ~2,700 bytes, a tsvector over 1 MB). Retrying the same
 * values can never succeed; storing different ones can.
 */
export function isDataError(err: unknown): boolean {
  const code = sqlStateOf(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('54'));
}

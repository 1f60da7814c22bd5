/**
 * What PostgreSQL said about a statement it refused, found through the wrappers (MikroORM's DriverException, our
 * AppError causes). Used to tell "the database refused this content" from "the database is gone" (unavailable.ts)
 * and from IMAP failures, which the sync engine reports very differently.
 */
import { causeChain } from '../shared/errors.js';

/** Five digits or capitals; not a Node errno code such as EPIPE (no SQLSTATE class starts with E). */
const SQLSTATE = /^(?!E)[0-9A-Z]{5}$/;

/** An error's own code: MikroORM keeps PostgreSQL's as `sqlState`, node-postgres (and Node, for sockets) as `code`. */
export function codeOf(err: object): string | undefined {
  const e = err as { code?: unknown; sqlState?: unknown };
  const code = typeof e.sqlState === 'string' ? e.sqlState : e.code;
  return typeof code === 'string' ? code : undefined;
}

/** The SQLSTATE of `err` or of an error it wraps. */
export function sqlStateOf(err: unknown): string | undefined {
  for (const cur of causeChain(err)) {
    const code = codeOf(cur);
    if (code !== undefined && SQLSTATE.test(code)) return code;
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

/**
 * PostgreSQL out of disk space (53100 disk_full: it could not extend a file). In the zero-setup default its cluster is
 * in DATA_DIR, with the blobs. Nobody's request is at fault and it passes once an operator frees space: a 503, and
 * the sync says so rather than blaming the IMAP server or masking it as a 500. Returns PostgreSQL's own message
 * (the driver's error, not MikroORM's wrapper, whose message starts with the statement), or undefined.
 */
export function diskFullMessage(err: unknown): string | undefined {
  if (sqlStateOf(err) !== '53100') return undefined;
  for (const cur of causeChain(err)) {
    const e = cur as { code?: unknown; sqlState?: unknown; message?: unknown };
    if (e.code === '53100' && e.sqlState === undefined && typeof e.message === 'string') return e.message;
  }
  return 'No space left on device';
}

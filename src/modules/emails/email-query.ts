/**
 * The one query builder behind every email listing (REST list, GraphQL connection, search candidates): filters,
 * scope, sort and keyset cursors as SQL fragments with `?` parameters. Pure (no database), so it is unit-tested.
 */
import { AppError } from '../../shared/errors.js';
import { inboxCase } from '../../shared/folders.js';
import { trimEndWhere } from '../../shared/text.js';
import { NUL_MESSAGE, parseDay } from '../../shared/validation.js';

/** Filters of `GET /api/emails` / `emails(filter)`. Dates are `Y-m-d` days in UTC; `until` includes its day. */
export interface EmailFilter {
  accountId?: number;
  folder?: string;
  /** Partial, case-insensitive match on the sender address or name. */
  from?: string;
  /** Partial, case-insensitive match on the subject. */
  subject?: string;
  /** Full text (subject, sender, recipients, body): `websearch_to_tsquery` syntax, never an error. */
  search?: string;
  hasAttachments?: boolean;
  isRead?: boolean;
  isStarred?: boolean;
  isArchived?: boolean;
  since?: string;
  until?: string;
  threadId?: number;
  /**
   * Seed 004's threaded view (`thread=true`): one email per thread, its newest matching email (an email without a
   * thread is its own). Applied by the listing (`threadedSql`), not by `buildEmailWhere`.
   */
  threaded?: boolean;
}

export const SORT_FIELDS = ['received_at', 'subject', 'from_address'] as const;
export type SortField = (typeof SORT_FIELDS)[number];
export const SORT_ORDERS = ['asc', 'desc'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

/**
 * Sort keys as SQL expressions. Nullable columns are coalesced so that a keyset comparison (row value < cursor) is
 * well defined; each expression has a matching `(expr, id)` index (migrations email_read, sort_prefix). Text sorts
 * use the first 256 characters: a btree entry cannot hold a subject of any length (and a cursor need not either).
 */
const SORT_SQL: Record<SortField, { expr: string; type: string }> = {
  received_at: { expr: 'e.received_at', type: 'timestamptz' },
  subject: { expr: "left(coalesce(e.subject, ''), 256)", type: 'text' },
  from_address: { expr: "left(coalesce(e.from_address, ''), 256)", type: 'text' },
};

/** The text search configuration created by the email_read migration (simple + unaccent). */
export const FTS_CONFIG = 'incoming_fts';

/**
 * The first word the query requires, in websearch_to_tsquery syntax: not negated (`-word`), not the `or` operator,
 * the first word of a quoted phrase; '' when there is none (the snippet then starts at the body's start).
 */
export function firstWord(query: string): string {
  for (const m of query.matchAll(/(-?)"([^"]*)"?|(\S+)/g)) {
    const token = m[2] ?? m[3] ?? '';
    if (m[1] === '-' || token.startsWith('-') || token.toLowerCase() === 'or') continue;
    const word = /[\p{L}\p{N}][\p{L}\p{N}\p{M}._@'’-]*/u.exec(token)?.[0];
    if (word) return trimEndWhere(word, (c) => "._@'’-".includes(c));
  }
  return '';
}

export interface Sort {
  field: SortField;
  order: SortOrder;
}

/**
 * Validates the documented sort and order (case-insensitive); unknown values are 400s naming the parameter. Empty is
 * the default, as an empty value is absent for every other parameter (`?sort=&order=`, as forms and some clients send).
 */
export function parseSort(sort: string | null | undefined, order: string | null | undefined): Sort {
  const field = (sort || 'received_at').trim().toLowerCase();
  const dir = (order || 'desc').trim().toLowerCase();
  if (!(SORT_FIELDS as readonly string[]).includes(field)) {
    throw AppError.badInput(`sort: unknown sort field "${sort}" (allowed: ${SORT_FIELDS.join(', ')})`);
  }
  if (!(SORT_ORDERS as readonly string[]).includes(dir)) throw AppError.badInput(`order: unknown sort order "${order}" (allowed: asc, desc)`);
  return { field: field as SortField, order: dir as SortOrder };
}

/** 10000-01-01: a timestamp from here on has no ISO 8601 form PostgreSQL reads (`+010000-…`). */
const YEAR_10000 = Date.UTC(10000, 0, 1);

const DAY_MS = 86_400_000;

/** `%`, `_` and `\` are literal in partial-match filters. */
export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Case-insensitive partial match under `incoming_nocase` (migration nocase_collation): ILIKE folds case with the
 * collation it compares under, and the database's own may be C (the embedded cluster's), which folds ASCII only.
 */
const ilike = (column: string) => `${column} COLLATE incoming_nocase ILIKE ?`;

export interface SqlPart {
  sql: string;
  params: unknown[];
}

/** Visibility: a scoped key sees its accounts' emails only (detached emails, without account, only unscoped keys). */
export function scopeSql(accountIds: readonly number[] | null, column = 'e.account_id'): SqlPart {
  return accountIds === null ? { sql: 'TRUE', params: [] } : { sql: `${column} = ANY(?::int[])`, params: [[...accountIds]] };
}

const MAX_TEXT_FILTER = 1000;

/** Text that may reach SQL: bounded, and without NUL (PostgreSQL text cannot hold it: an error, not an empty result). */
export function checkText(value: string | undefined, field: string): void {
  if (value === undefined) return;
  if (value.includes('\0')) throw AppError.badInput(`${field}: ${NUL_MESSAGE}`);
  // In characters (code points), as `q`'s minimum is: an emoji is two UTF-16 units.
  if (value.length > MAX_TEXT_FILTER && [...value].length > MAX_TEXT_FILTER) throw AppError.badInput(`${field}: must be at most ${MAX_TEXT_FILTER} characters`);
}

/** The largest email id now: an offset listing's snapshot (`withSnapshot`), read once per listing. */
export const SNAPSHOT_SQL = 'SELECT coalesce(max(id), 0) FROM emails';

/**
 * Leaves out the emails stored after an offset listing's first page (`snapshot`: the largest email id then, which
 * that page reported): new mail then no longer shifts the later pages, so none repeats or is skipped (README,
 * "Listing"). Absent or empty: no bound. Email ids are PostgreSQL integers.
 */
export function withSnapshot(where: SqlPart, snapshot: string | null | undefined, alias = 'e'): SqlPart {
  if (snapshot === null || snapshot === undefined || snapshot === '') return where;
  if (!/^\d{1,10}$/.test(snapshot) || Number(snapshot) > 2_147_483_647) {
    throw AppError.badInput('snapshot: must be the snapshot an earlier page reported (an email id)');
  }
  return { sql: `${where.sql} AND ${alias}.id <= ?`, params: [...where.params, Number(snapshot)] };
}

/** WHERE clause (scope AND filters) over `emails e` (or `emails <alias>`). */
export function buildEmailWhere(accountIds: readonly number[] | null, f: EmailFilter, alias = 'e'): SqlPart {
  for (const field of ['folder', 'from', 'subject', 'search'] as const) checkText(f[field], field);
  const a = alias;
  const scope = scopeSql(accountIds, `${a}.account_id`);
  const conds: string[] = [scope.sql];
  const params: unknown[] = [...scope.params];
  const add = (sql: string, ...ps: unknown[]) => {
    conds.push(sql);
    params.push(...ps);
  };
  if (f.accountId !== undefined) add(`${a}.account_id = ?`, f.accountId);
  // No IMAP folder is named "": empty is no filter, as for the other text filters (it used to match nothing).
  if (f.folder !== undefined && f.folder !== '') add(`${a}.folder = ?`, inboxCase(f.folder));
  if (f.from !== undefined && f.from !== '') {
    const like = `%${escapeLike(f.from)}%`;
    add(`(${ilike(`${a}.from_address`)} OR ${ilike(`${a}.from_name`)})`, like, like);
  }
  if (f.subject !== undefined && f.subject !== '') add(ilike(`${a}.subject`), `%${escapeLike(f.subject)}%`);
  if (f.search !== undefined && f.search.trim() !== '') add(`${a}.search_vector @@ websearch_to_tsquery('${FTS_CONFIG}', ?)`, f.search);
  if (f.hasAttachments !== undefined) add(`${a}.has_attachments = ?`, f.hasAttachments);
  if (f.isRead !== undefined) add(`${a}.is_read = ?`, f.isRead);
  if (f.isStarred !== undefined) add(`${a}.is_starred = ?`, f.isStarred);
  if (f.isArchived !== undefined) add(`${a}.is_archived = ?`, f.isArchived);
  if (f.threadId !== undefined) add(`${a}.thread_id = ?`, f.threadId);
  const since = f.since ? parseDay(f.since, 'since') : undefined;
  const until = f.until ? parseDay(f.until, 'until') : undefined;
  if (since && until && until < since) throw AppError.badInput('until: must not be before since');
  if (since) add(`${a}.received_at >= ?`, since);
  // `until` names a day and includes all of it: strictly before the next midnight.
  // `until=9999-12-31` ends after every storable timestamp: no condition.
  if (until && until.getTime() + DAY_MS < YEAR_10000) add(`${a}.received_at < ?`, new Date(until.getTime() + DAY_MS));
  return { sql: conds.join(' AND '), params };
}

/**
 * Seed 004's threaded view: keeps an email only when no newer email of its thread matches the same filters, so each
 * thread shows once, as its newest match. An anti-join probe of the `emails_thread_recency` index per row the page
 * walks (not per row of the table: the page's LIMIT stops the walk); the listing's total counts distinct threads.
 */
export function threadedSql(accountIds: readonly number[] | null, f: EmailFilter, snapshot?: string | null): SqlPart {
  // Mail stored after the listing's snapshot is left out here too: a reply arriving mid-listing must not hide its
  // thread's older match from the later pages, where the reply itself is left out.
  const newer = withSnapshot(buildEmailWhere(accountIds, f, 'n'), snapshot, 'n');
  return {
    sql: `(e.thread_id IS NULL OR NOT EXISTS (SELECT 1 FROM emails n WHERE n.thread_id = e.thread_id
      AND (n.received_at, n.id) > (e.received_at, e.id) AND ${newer.sql}))`,
    params: newer.params,
  };
}

/**
 * A listing's WHERE: filters, scope and snapshot (`base`), plus the threaded view's condition when asked for
 * (`where`); `countSql` counts its rows over `base`: the threads among the matches for the threaded view (an email
 * without one counting alone), which gives the same number without the per-row probe of every match.
 */
export function listingWhere(accountIds: readonly number[] | null, f: EmailFilter, snapshot: string | null | undefined): { where: SqlPart; base: SqlPart; countSql: string } {
  const base = withSnapshot(buildEmailWhere(accountIds, f), snapshot);
  if (!f.threaded) return { where: base, base, countSql: 'count(*)' };
  const thread = threadedSql(accountIds, f, snapshot);
  return { where: { sql: `${base.sql} AND ${thread.sql}`, params: [...base.params, ...thread.params] }, base, countSql: 'count(DISTINCT coalesce(e.thread_id, -e.id))' };
}

/** The position of one row in a sorted listing: its sort key (as PostgreSQL text) and id. */
export interface Cursor {
  field: SortField;
  order: SortOrder;
  key: string;
  id: number;
}

/** Opaque cursor: base64url of the sort it belongs to, the row's sort key and id. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.field, c.order, c.key, c.id])).toString('base64url');
}

/**
 * Decodes a cursor produced for the same sort; anything else is a 400 naming `field`. The key's type is checked by
 * PostgreSQL when the cursor is used (a key that is no timestamp fails its cast: a 400 too, see EmailsQueryService.list).
 */
export function decodeCursor(value: string, sort: Sort, field = 'after'): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  // A NUL cannot reach PostgreSQL text (the statement fails): it is no key we ever produced.
  const ok =
    Array.isArray(parsed) && parsed.length === 4 && typeof parsed[2] === 'string' && !parsed[2].includes('\0') && Number.isSafeInteger(parsed[3]) && parsed[3] > 0;
  if (!ok) throw AppError.badInput(`${field}: invalid cursor`);
  const [f, o, key, id] = parsed as [string, string, string, number];
  if (f !== sort.field || o !== sort.order) throw AppError.badInput(`${field}: the cursor belongs to another sort (${f} ${o})`);
  return { field: sort.field, order: sort.order, key, id };
}

/**
 * ORDER BY (sort key, then id in the same direction: a total order, so pages never overlap or skip on ties). With
 * `indexed` false the key is written so that no index matches it (same values, same order): PostgreSQL cannot walk the
 * sort index, testing each row against a filter it estimated wrongly (a rare search word), and sorts the matches.
 */
export function orderSql(sort: Sort, indexed = true): string {
  const dir = sort.order === 'asc' ? 'ASC' : 'DESC';
  const s = SORT_SQL[sort.field];
  const key = indexed ? s.expr : s.type === 'text' ? `(${s.expr} || '')` : `(${s.expr} + interval '0 s')`;
  return `${key} ${dir}, e.id ${dir}`;
}

/** The sort key of each row, selected as text for cursors. */
export function sortKeySql(sort: Sort): string {
  return `(${SORT_SQL[sort.field].expr})::text`;
}

/** Rows strictly after the cursor in the listing's order (row-value comparison, served by the `(expr, id)` index). */
export function afterSql(c: Cursor): SqlPart {
  const s = SORT_SQL[c.field];
  return { sql: `(${s.expr}, e.id) ${c.order === 'asc' ? '>' : '<'} (?::${s.type}, ?)`, params: [c.key, c.id] };
}

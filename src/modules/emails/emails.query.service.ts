/**
 * The read side of emails: listings (page/perPage for REST, keyset cursors for GraphQL), ranked full-text search,
 * statistics, folders, one email and its raw form. Every method applies the principal's account scope in SQL: an email
 * of an account the key may not see is never returned, and asking for it by id is a 404 (no existence leak).
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { embedColumns, exec, type RowEmbed } from '../../db/sql.js';
import { isDataError } from '../../db/sql-errors.js';
import { CountCache, GENERATION_SQL } from './count-cache.js';
import { candidatesSql, SearchWindows, type CandidateWindows } from './search-window.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from '../auth/index.js';
import { canSeeAccount } from '../accounts/index.js';
import {
  afterSql,
  buildEmailWhere,
  checkText,
  decodeCursor,
  encodeCursor,
  firstWord,
  FTS_CONFIG,
  orderSql,
  parseSort,
  scopeSql,
  sortKeySql,
  listingWhere,
  SNAPSHOT_SQL,
  type EmailFilter,
  type Sort,
} from './email-query.js';
import { BODY_COLUMNS, EMAIL_COLUMNS, toEmailRow, type EmailBodies, type EmailDetail, type EmailRow } from './email-row.js';

export const DEFAULT_PER_PAGE = 50;
export const MAX_PER_PAGE = 100;
export const DEFAULT_SEARCH_LIMIT = 20;
export const MAX_SEARCH_LIMIT = 50;
/** Offsets from which a listing page is read only if the total says it holds rows (`list`). */
const DEEP_OFFSET = 10_000;
/**
 * Snippets: ts_headline's cost grows with the text it is given (~0.5 ms for 5,000 characters, most of a common-word
 * search's PostgreSQL time at 20 results). So it gets a window of SNIPPET_WINDOW characters that starts
 * SNIPPET_LEAD before the first occurrence of the query's first word, or the start of the body when the word is not
 * found verbatim (an accent-insensitive match, say): the highlight is then where the match is, even deep in a long
 * message. The occurrence is looked up as written, Capitalized and in capitals first (`strpos`, a byte search), and
 * only then in the lower-cased body (up to SNIPPET_SCAN characters): lower() of a whole body is character by
 * character, and was half of the snippets' cost. ts_headline costs ~0.1 µs per character of its window (PostgreSQL's
 * text parser): 400 characters hold the two fragments of up to 30 words around the occurrence (at 800, 20 snippets of
 * bench:api's mail were 4% longer and cost 0.9 ms more).
 */
const SNIPPET_WINDOW = 400;
const SNIPPET_LEAD = 120;
const SNIPPET_SCAN = 100_000;
const MIN_QUERY_LENGTH = 2;
const SNIPPET_OPTIONS = 'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "';

export interface ListOptions {
  /** Run the COUNT(*) for the total (default true); false reports 0. */
  count?: boolean;
  /** Relations read in the page's statement, by column alias (each row carries the embed's JSON under it). */
  embeds?: Readonly<Record<string, RowEmbed<unknown>>>;
  /** Report the listing's snapshot (`EmailPage.snapshot`; default false). */
  snapshot?: boolean;
}

export interface ListArgs {
  filter?: EmailFilter;
  sort?: string | null;
  order?: string | null;
  page?: number | null;
  perPage?: number | null;
  first?: number | null;
  after?: string | null;
  /** Only emails stored up to this snapshot (`withSnapshot`): what the first page of the listing reported. */
  snapshot?: string | null;
}

export interface EmailPage {
  rows: EmailRow[];
  /** The keyset cursor of a row of this page (encoded on demand: REST never asks for cursors). */
  cursor(row: EmailRow): string;
  total: number;
  /** Page mode: the requested page; cursor mode: null. */
  page: number | null;
  perPage: number;
  totalPages: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** The snapshot to pass with the listing's next pages (the one given, or the largest email id now); if asked for. */
  snapshot: string | null;
}

export interface SearchHit {
  email: EmailRow;
  rank: number;
  snippet: string;
}

export interface EmailStats {
  totalEmails: number;
  unreadEmails: number;
  starredEmails: number;
  archivedEmails: number;
  withAttachments: number;
  totalThreads: number;
  folders: FolderSummary[];
  latestEmailAt: Date | null;
  oldestEmailAt: Date | null;
}

export interface FolderSummary {
  accountId: number | null;
  folder: string;
  total: number;
  unread: number;
}

const clamp = (n: number, max: number) => Math.min(n, max);

/** Which emails of a thread a page holds (oldest first). */
export interface ThreadSlice {
  offset: number;
  limit: number;
}

export interface ThreadEmailsPage {
  rows: EmailRow[];
  total: number;
  page: number;
  perPage: number;
  totalPages: number;
}

/** A page of a thread's emails: `page` (default 1) of `perPage` (default 50, clamped to 100), as every listing. */
export function threadSlice(args: { page?: number | null; perPage?: number | null }): { page: number; perPage: number; slice: ThreadSlice } {
  const page = positive(args.page, 'page', 1);
  const perPage = clamp(positive(args.perPage, 'per_page', DEFAULT_PER_PAGE), MAX_PER_PAGE);
  return { page, perPage, slice: { offset: (page - 1) * perPage, limit: perPage } };
}

/** A positive integer argument (page, page size, limit), or the fallback when absent. */
export function positive(value: number | null | undefined, field: string, fallback: number): number {
  if (value === null || value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw AppError.badInput(`${field}: must be a positive integer`);
  return value;
}

export class EmailsQueryService {
  private readonly counts = new CountCache();
  /** Statistics and folder counts, per outbox generation too (`stats`). */
  private readonly statsCache = new CountCache<EmailStats>();
  private readonly foldersCache = new CountCache<FolderSummary[]>();
  private readonly windows: CandidateWindows;

  constructor(
    private readonly orm: MikroORM,
    windows?: CandidateWindows,
  ) {
    this.windows = windows ?? new SearchWindows(() => this.em);
  }

  private get em() {
    return this.orm.em.fork();
  }

  /** One page of emails: `page`/`perPage` (offset) or `first`/`after` (keyset); totals unless `count: false` (then 0). */
  async list(principal: Principal, args: ListArgs, opts: ListOptions = {}): Promise<EmailPage> {
    const sort = parseSort(args.sort, args.order);
    const cursorMode = args.first != null || args.after != null;
    if (cursorMode && args.page != null) throw AppError.badInput('page: cannot be combined with first/after');
    // It was ignored (50 emails came back where a client asked for 2): `first` is the page size of cursor mode.
    if (cursorMode && args.perPage != null) throw AppError.badInput('per_page: cannot be combined with first/after (first is the page size)');
    const size = clamp(positive(cursorMode ? args.first : args.perPage, cursorMode ? 'first' : 'per_page', DEFAULT_PER_PAGE), MAX_PER_PAGE);
    const page = cursorMode ? null : positive(args.page, 'page', 1);
    const { where, base, countSql } = listingWhere(principal.accountIds, args.filter ?? {}, args.snapshot);
    // The listing's first page reads its snapshot with the page (same statement, same view of the table).
    const snapshotSql = opts.snapshot && !args.snapshot ? `, (${SNAPSHOT_SQL})::text AS "_snap"` : '';
    const after = args.after ? afterSql(decodeCursor(args.after, sort)) : null;
    const em = this.em;
    const counted = async () => {
      const [row] = await exec<{ n: number }>(this.em, `SELECT ${countSql}::int AS n FROM emails e WHERE ${base.sql}`, base.params);
      return row!.n;
    };
    const offset = page ? (page - 1) * size : 0;
    // A search for a rare word must not walk the sort index (search-window.ts, `walkable`).
    const search = args.filter?.search?.trim();
    const indexed = !search || this.windows.walkable?.(search, offset + size + 1) !== false;
    const pageSql = `SELECT ${EMAIL_COLUMNS}, ${sortKeySql(sort)} AS "_key", (${GENERATION_SQL}) AS "_gen"${snapshotSql} FROM emails e
       WHERE ${where.sql}${after ? ` AND ${after.sql}` : ''}
       ORDER BY ${orderSql(sort, indexed)} LIMIT ? OFFSET ?`;
    // Embedded relations are computed over the page (a subquery scan keeps its order), not in it: there, PostgreSQL
    // would also compute them for every row skipped by the OFFSET.
    const countKey = `${where.sql}\0${JSON.stringify(where.params)}`;
    // OFFSET reads every row it skips (page=100000 of 100k emails: 0.6 s for an empty page). A deep page is only read
    // when the listing's total (usually cached) says it holds something.
    const known = opts.count !== false && offset >= DEEP_OFFSET ? await this.counts.total(countKey, await this.counts.generation(em), counted) : undefined;
    const rows = known !== undefined && offset >= known ? [] : await exec<EmailRow & { _key: string; _gen: string; _snap?: string }>(
      em,
      opts.embeds && Object.keys(opts.embeds).length > 0 ? `SELECT p.*${embedColumns(opts.embeds, 'p.id')} FROM (${pageSql}) p` : pageSql,
      [...where.params, ...(after?.params ?? []), size + 1, offset],
    ).catch((err: unknown) => {
      // Every other value of this statement is validated: a data error here is a forged cursor whose key is no value
      // of the sort column (`garbage` or `2024-13-45` for received_at), a client error rather than a 500.
      if (after && isDataError(err)) throw AppError.badInput('after: invalid cursor');
      throw err;
    });
    // The outbox generation comes with the page, in its snapshot (one round trip fewer); an empty page reads it alone.
    const total = opts.count === false ? 0 : (known ?? (await this.counts.total(countKey, rows[0]?._gen ?? (await this.counts.generation(em)), counted)));
    // Rows are completed in place (`_key`, the sort key, stays on them for their cursor, and `_gen`): copying 27
    // columns per row to drop them was a good part of a listing's garbage.
    return {
      rows: rows.slice(0, size).map(toEmailRow),
      cursor: (row) => encodeCursor({ ...sort, key: (row as EmailRow & { _key: string })._key, id: row.id }),
      total,
      page,
      perPage: size,
      totalPages: Math.ceil(total / size),
      hasNextPage: rows.length > size,
      hasPreviousPage: page ? page > 1 : !!args.after,
      snapshot: !opts.snapshot ? null : args.snapshot || (rows[0]?._snap ?? (await exec<{ s: string }>(em, `SELECT (${SNAPSHOT_SQL})::text AS s`))[0]!.s),
    };
  }

  /**
   * Ranked full-text search: the SEARCH_CANDIDATES most recent matches (search-window.ts) are ranked with ts_rank, and only
   * the returned rows get a highlighted snippet (ts_headline over HTML-escaped text, so only `<mark>` is markup).
   */
  async search(principal: Principal, q: string, limit?: number | null, filter: EmailFilter = {}, opts: Pick<ListOptions, 'embeds'> = {}): Promise<SearchHit[]> {
    const query = (q ?? '').trim();
    checkText(query, 'q');
    // In characters (code points of the composed form), not UTF-16 units: an emoji is one.
    if ([...query.normalize('NFC')].length < MIN_QUERY_LENGTH) throw AppError.badInput(`q: must be at least ${MIN_QUERY_LENGTH} characters`);
    const n = clamp(positive(limit, 'limit', DEFAULT_SEARCH_LIMIT), MAX_SEARCH_LIMIT);
    const where = buildEmailWhere(principal.accountIds, { ...filter, search: query });
    const cand = candidatesSql(where, this.windows.threshold(query));
    const escaped = (col: string) => `replace(replace(replace(${col}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')`;
    // b.body: the body detoasted once (`|| ''` makes a plain copy), not once per function that reads it; b.w: the
    // query's first word in lower case; f.pos: its first occurrence in the body (0 or null: none).
    const found = (w: string) => `nullif(strpos(b.body, ${w}), 0)`;
    // Case mapping under incoming_nocase: the database's collation may be C, whose initcap/upper/lower leave "é" alone.
    const nocase = (fn: string, arg: string) => `${fn}(${arg} COLLATE incoming_nocase)`;
    const first = `coalesce(least(${found('b.w')}, ${found(nocase('initcap', 'b.w'))}, ${found(nocase('upper', 'b.w'))}), strpos(${nocase('lower', `left(b.body, ${SNIPPET_SCAN})`)}, b.w))`;
    const snippetWindow = `substr(b.body, greatest(1, f.pos - ${SNIPPET_LEAD}), ${SNIPPET_WINDOW})`;
    // The text the snippet is made of: the body's window, unless the word is nowhere in the body and the subject
    // matches (a subject-only match: its highlight is there), or the window is only blank (then the subject too).
    const snippetText = `CASE WHEN coalesce(f.pos, 0) = 0 AND to_tsvector('${FTS_CONFIG}', coalesce(e.subject, '')) @@ b.q THEN e.subject
      ELSE coalesce(nullif(btrim(${snippetWindow}, E' \\t\\r\\n'), ''), e.subject, '') END`;
    const rows = await exec<EmailRow & { rank: number; snippet: string }>(
      this.em,
      `WITH ${cand.sql}, top AS (
         SELECT cand.id, ts_rank(cand.search_vector, websearch_to_tsquery('${FTS_CONFIG}', ?))::float8 AS rank
         FROM cand ORDER BY rank DESC, cand.received_at DESC, cand.id DESC LIMIT ?
       )
       SELECT ${EMAIL_COLUMNS}, top.rank, ts_headline('${FTS_CONFIG}', ${escaped('s.text')}, b.q, ?) AS snippet${embedColumns(opts.embeds, 'e.id')}
       FROM top JOIN emails e ON e.id = top.id
         CROSS JOIN LATERAL (SELECT e.body_text || '' AS body, ?::text AS w, websearch_to_tsquery('${FTS_CONFIG}', ?) AS q OFFSET 0) b
         CROSS JOIN LATERAL (SELECT ${first} AS pos OFFSET 0) f
         CROSS JOIN LATERAL (SELECT ${snippetText} AS text) s
       ORDER BY top.rank DESC, e.received_at DESC, e.id DESC`,
      [...cand.params, query, n, SNIPPET_OPTIONS, firstWord(query).toLowerCase(), query],
    );
    return rows.map(({ rank, snippet, ...r }) => ({ email: toEmailRow(r), rank: Number(rank), snippet }));
  }

  /** One email (without bodies), or NOT_FOUND when unknown or outside the principal's scope. */
  async get(principal: Principal, id: number): Promise<EmailRow> {
    const scope = scopeSql(principal.accountIds);
    const [row] = await exec<EmailRow>(this.em, `SELECT ${EMAIL_COLUMNS} FROM emails e WHERE e.id = ? AND ${scope.sql}`, [id, ...scope.params]);
    if (!row) throw AppError.notFound('Email', id);
    return toEmailRow(row);
  }

  /** One email with its stored bodies (unsanitized HTML) and every header. */
  async raw(principal: Principal, id: number): Promise<EmailDetail> {
    const scope = scopeSql(principal.accountIds);
    const [row] = await exec<EmailDetail>(this.em, `SELECT ${EMAIL_COLUMNS}, ${BODY_COLUMNS} FROM emails e WHERE e.id = ? AND ${scope.sql}`, [
      id,
      ...scope.params,
    ]);
    if (!row) throw AppError.notFound('Email', id);
    return toEmailRow(row);
  }

  /** Bodies and headers of many emails in one query (GraphQL asks for them per page, through a DataLoader). */
  async bodies(ids: readonly number[]): Promise<Map<number, EmailBodies>> {
    const rows = await exec<EmailBodies & { id: number }>(this.em, `SELECT e.id, ${BODY_COLUMNS} FROM emails e WHERE e.id = ANY(?::int[])`, [[...ids]]);
    return new Map(rows.map(({ id, ...b }) => [id, b]));
  }

  /**
   * One page of the emails of each of many threads (`slice`: the same page of each), oldest first, in one query.
   * Threads never span accounts, so no scope is needed here. A page, not the whole thread: a mailing-list thread can
   * hold 10,000 messages.
   */
  async byThreads(threadIds: readonly number[], slice: ThreadSlice = { offset: 0, limit: DEFAULT_PER_PAGE }): Promise<Map<number, EmailRow[]>> {
    const rows = await exec<EmailRow>(
      this.em,
      `SELECT e.* FROM unnest(?::int[]) AS t(id)
       CROSS JOIN LATERAL (SELECT ${EMAIL_COLUMNS} FROM emails e WHERE e.thread_id = t.id ORDER BY e.received_at ASC, e.id ASC LIMIT ? OFFSET ?) e`,
      [[...new Set(threadIds)], slice.limit, slice.offset],
    );
    const out = new Map<number, EmailRow[]>(threadIds.map((t) => [t, []]));
    for (const r of rows) out.get(r.threadId!)?.push(toEmailRow(r));
    return out;
  }

  /**
   * The thread of an email, a page at a time, oldest first (just the email when it has no thread), with the thread's
   * size; NOT_FOUND when the email is unknown or outside the principal's scope.
   */
  async threadOf(principal: Principal, emailId: number, args: { page?: number | null; perPage?: number | null }): Promise<ThreadEmailsPage> {
    const email = await this.get(principal, emailId);
    const { page, perPage, slice } = threadSlice(args);
    if (email.threadId === null) return { rows: page === 1 ? [email] : [], total: 1, page, perPage, totalPages: 1 };
    const [rows, [count]] = await Promise.all([
      this.byThreads([email.threadId], slice),
      exec<{ n: number }>(this.em, 'SELECT count(*)::int AS n FROM emails WHERE thread_id = ?', [email.threadId]),
    ]);
    return { rows: rows.get(email.threadId) ?? [], total: count!.n, page, perPage, totalPages: Math.ceil(count!.n / perPage) };
  }

  /**
   * Totals, threads and per-folder counts over the visible emails (of one account when given). They read every
   * visible email (~1 s of PostgreSQL CPU per request at 100k emails: six requests a second saturated two cores), so
   * they are computed once per outbox generation and key scope, as listing totals are (count-cache.ts): concurrent
   * requests share one computation, and a change to the mail shows at the next request.
   */
  async stats(principal: Principal, accountId?: number | null): Promise<EmailStats> {
    const filter = await this.accountFilter(principal, accountId);
    const where = buildEmailWhere(principal.accountIds, filter);
    const key = `${where.sql}\0${JSON.stringify(where.params)}`;
    return this.statsCache.total(key, await this.statsCache.generation(this.em), () => this.computeStats(principal, filter, where));
  }

  private async computeStats(principal: Principal, filter: EmailFilter, where: { sql: string; params: unknown[] }): Promise<EmailStats> {
    const em = this.em;
    const [[t], folders] = await Promise.all([
      exec<{ total: number; unread: number; starred: number; archived: number; with_att: number; threads: number; latest: Date | null; oldest: Date | null }>(
        em,
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE NOT e.is_read)::int AS unread,
                count(*) FILTER (WHERE e.is_starred)::int AS starred, count(*) FILTER (WHERE e.is_archived)::int AS archived,
                count(*) FILTER (WHERE e.has_attachments)::int AS with_att, count(DISTINCT e.thread_id)::int AS threads,
                max(e.received_at) AS latest, min(e.received_at) AS oldest
         FROM emails e WHERE ${where.sql}`,
        where.params,
      ),
      this.folderCounts(principal, filter),
    ]);
    return {
      totalEmails: t!.total,
      unreadEmails: t!.unread,
      starredEmails: t!.starred,
      archivedEmails: t!.archived,
      withAttachments: t!.with_att,
      totalThreads: t!.threads,
      folders,
      latestEmailAt: t!.latest ? new Date(t!.latest) : null,
      oldestEmailAt: t!.oldest ? new Date(t!.oldest) : null,
    };
  }

  /**
   * Folders per account with total and unread counts, including synced folders that are empty. Detached emails (their
   * account deleted, the mail kept; visible to unscoped keys only) are counted under `accountId` null, so that the
   * folders add up to the totals and to what the listing shows.
   */
  async folders(principal: Principal, accountId?: number | null): Promise<FolderSummary[]> {
    const filter = await this.accountFilter(principal, accountId);
    const key = `${JSON.stringify(principal.accountIds)}\0${filter.accountId ?? ''}`;
    return this.foldersCache.total(key, await this.foldersCache.generation(this.em), () => this.folderCounts(principal, filter));
  }

  private folderCounts(principal: Principal, filter: EmailFilter): Promise<FolderSummary[]> {
    const where = buildEmailWhere(principal.accountIds, filter);
    const fsScope = scopeSql(principal.accountIds, 'fs.account_id');
    const fsAccount = filter.accountId !== undefined ? ' AND fs.account_id = ?' : '';
    return exec<FolderSummary>(
      this.em,
      `SELECT coalesce(c.account_id, fs.account_id) AS "accountId", coalesce(c.folder, fs.folder) AS folder,
              coalesce(c.total, 0)::int AS total, coalesce(c.unread, 0)::int AS unread
       FROM (SELECT e.account_id, e.folder, count(*) AS total, count(*) FILTER (WHERE NOT e.is_read) AS unread
             FROM emails e WHERE ${where.sql} GROUP BY e.account_id, e.folder) c
       FULL JOIN (SELECT fs.account_id, fs.folder FROM folder_states fs WHERE ${fsScope.sql}${fsAccount}) fs
         ON fs.account_id = c.account_id AND fs.folder = c.folder
       ORDER BY 1, 2`,
      [...where.params, ...fsScope.params, ...(filter.accountId !== undefined ? [filter.accountId] : [])],
    );
  }

  /** An account filter for per-account figures: an unknown account or one outside the scope is a 404, as on /api/accounts/{id}. */
  async accountFilter(principal: Principal, accountId?: number | null): Promise<EmailFilter> {
    if (accountId === null || accountId === undefined) return {};
    const exists = canSeeAccount(principal, accountId) && (await exec(this.em, 'SELECT 1 FROM accounts WHERE id = ?', [accountId])).length > 0;
    if (!exists) throw AppError.notFound('Account', accountId);
    return { accountId };
  }
}

export type { Sort };

/**
 * Where a ranked search looks for its candidates (issue #4). The candidates are the SEARCH_CANDIDATES most recent
 * matches. PostgreSQL finds them one of two ways, and both get slow for some words:
 * - walking the received_at index backwards and testing each row's tsvector (each one detoasted): ~9 µs per row
 *   visited, 200 / frequency rows. Cheap for a word in 15% of the mail or more, ~30 ms for one in 5%.
 * - a bitmap of every match (GIN), then a visit of every matching row to sort them by date: for a word in 5% of 100k
 *   emails, 5,600 rows on ~4,100 heap pages (~8 ms).
 * A window bounds the second way: only the matches received since `threshold` are visited, a date chosen so that the
 * window holds about WINDOW_MARGIN × SEARCH_CANDIDATES matches, from the word's frequency in a sample of the mail
 * (`sampleFrequencies`) and PostgreSQL's received_at histogram (kept fresh by ANALYZE). The
 * results are the same: when the window holds 200 matches, every match outside it is older than all of them; when it
 * holds fewer, the same statement adds the most recent older ones. Statistics only decide the cost. On the 100k
 * emails of bench:api, finding and ranking the candidates of a word in 13% of them: 13.6 → 5.8 ms.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';
import type { Logger } from '../../shared/logger.js';
import type { SqlPart } from './email-query.js';

/** How many of the most recent matches are ranked; four times the largest page (limit 50). */
export const SEARCH_CANDIDATES = 200;

/**
 * Words at least this frequent are found faster by the received_at walk (PostgreSQL's own plan for them): the GIN
 * bitmap of a word costs ~0.2–0.35 µs per email that has it, whatever the window.
 */
const WALK_MIN_FREQUENCY = 0.15;
/**
 * A row walked (its tsvector detoasted and tested, ~9 µs) costs about as much as this many matches visited through
 * the GIN bitmap (~1.4 µs each: 5,600 rows in ~8 ms).
 */
const WALK_ROW_COST = 6;
/** Below this many estimated matches, visiting them all costs little (~2 µs each): no window. */
const WINDOW_MIN_MATCHES = 3000;
/** The window is sized for this many times the candidates it must hold: statistics are a sample. */
const WINDOW_MARGIN = 2.5;
/** Windows over this share of the mail are not worth their fallback risk: search everything. */
const MAX_WINDOW_SHARE = 0.6;
/** The sample's ts_stat costs PostgreSQL ~1 s of CPU at 5,000 emails: statistics are re-read every 10 minutes. */
const REFRESH_MS = 10 * 60_000;
const SAMPLE_ROWS = 5000;

interface Stats {
  /** Rows in `emails` (pg_class.reltuples). */
  rows: number;
  /** Lexeme → share of the rows that contain it, for the lexemes common enough to get a window. */
  frequencies: Map<string, number>;
  /** received_at histogram: 101 bounds, equal numbers of rows between two. */
  bounds: Date[];
}

/** What websearch_to_tsquery keeps of a word, near enough for an estimate: lower case, accents removed (unaccent). */
const lexeme = (word: string): string => word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/**
 * The estimated share of emails matching `query` (websearch syntax): the product of its required words' frequencies
 * (negated words are ignored). Null when it has an `or`, no word, or a word too rare to be listed: rare-word searches
 * are the most frequent kind and the cheapest, and a window that then holds too few would cost them ~1 ms more.
 */
export function estimateFrequency(query: string, frequencies: ReadonlyMap<string, number>): number | null {
  let f = 1;
  let words = 0;
  for (const m of query.matchAll(/(-?)("[^"]*"?|\S+)/g)) {
    if (m[2]!.toLowerCase() === 'or') return null;
    if (m[1] === '-') continue;
    for (const word of m[2]!.match(/[\p{L}\p{N}]+/gu) ?? []) {
      const listed = frequencies.get(lexeme(word));
      if (listed === undefined) return null;
      f *= listed;
      words++;
    }
  }
  return words === 0 ? null : f;
}

/**
 * The estimated share of emails matching `query` for a listing's plan (`walkable`): the largest of its `or` branches,
 * each the product of its words' frequencies (1 − frequency for a negated word), a word missing from the list counting
 * as rare (0). A query without any word (emoji, punctuation only) matches nothing (0).
 */
export function estimateShare(query: string, frequencies: ReadonlyMap<string, number>): number {
  let best = 0;
  let share = 1;
  let terms = 0;
  const close = () => {
    if (terms > 0) best = Math.max(best, share);
    share = 1;
    terms = 0;
  };
  for (const m of query.matchAll(/(-?)("[^"]*"?|\S+)/g)) {
    if (m[2]!.toLowerCase() === 'or') {
      close();
      continue;
    }
    const words = m[2]!.match(/[\p{L}\p{N}]+/gu) ?? [];
    if (words.length === 0) continue;
    terms++;
    for (const word of words) {
      const f = frequencies.get(lexeme(word)) ?? 0;
      share *= m[1] === '-' ? 1 - f : f;
    }
  }
  close();
  return best;
}

/** The window's lower received_at bound for a query, or null for no window (tests pass their own). */
export interface CandidateWindows {
  threshold(query: string): Date | null;
  /**
   * Whether a listing filtered by `query` may walk its sort index to find its first `rows` matches, testing each row's
   * tsvector until it has them (~rows / share rows), rather than take the GIN bitmap of every match (share × table).
   * For a rare word the walk reads every tsvector of the table before it gives up (4.5 s for a page of 20 at 100k
   * emails); for a common one the bitmap visits a large part of the table. Undefined: no statistics yet, PostgreSQL's
   * plan as it is.
   */
  walkable?(query: string, rows: number): boolean | undefined;
}

export class SearchWindows implements CandidateWindows {
  private stats: Stats | null = null;
  private loadedAt = -Infinity;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly em: () => EntityManager,
    /** Tests lower `minMatches` (WINDOW_MIN_MATCHES) to use windows on a small table. */
    private readonly opts: { minMatches?: number; log?: Logger } = {},
  ) {}

  /**
   * The lower received_at bound of the candidate window for `query`, or null to search all the mail. Never waits:
   * statistics older than REFRESH_MS are re-read in the background, and until the first read there is no window.
   */
  threshold(query: string): Date | null {
    const stats = this.current();
    if (!stats) return null;
    const f = estimateFrequency(query, stats.frequencies);
    if (f === null || f >= WALK_MIN_FREQUENCY || f * stats.rows < (this.opts.minMatches ?? WINDOW_MIN_MATCHES)) return null;
    const share = (WINDOW_MARGIN * SEARCH_CANDIDATES) / Math.max(f, 1e-9) / stats.rows;
    if (share > MAX_WINDOW_SHARE) return null;
    // Bound i has i% of the rows below it: start at or before the quantile (1 - share), so the window is not smaller.
    const i = Math.floor((1 - share) * (stats.bounds.length - 1));
    return stats.bounds[i] ?? null;
  }

  walkable(query: string, rows: number): boolean | undefined {
    const stats = this.current();
    if (!stats) return undefined;
    const share = estimateShare(query, stats.frequencies);
    return share > 0 && (rows / share) * WALK_ROW_COST < share * stats.rows;
  }

  /** The statistics (null before the first read), re-read in the background when older than REFRESH_MS. */
  private current(): Stats | null {
    if (Date.now() - this.loadedAt > REFRESH_MS && !this.loading) {
      this.loading = this.load().finally(() => {
        this.loading = null;
      });
    }
    return this.stats && this.stats.rows > 0 ? this.stats : null;
  }

  /**
   * Reads the statistics (none before the first ANALYZE: no windows); a failure is logged and leaves the previous
   * ones, searches stay correct. Exposed for tests.
   */
  async load(): Promise<void> {
    try {
      const [table] = await exec<{ rows: number; bounds: Date[] | null }>(
        this.em(),
        `SELECT (SELECT reltuples FROM pg_class WHERE oid = 'emails'::regclass)::float8 AS rows,
                (SELECT h.histogram_bounds::text::timestamptz[] FROM pg_stats h
                  WHERE h.schemaname = current_schema() AND h.tablename = 'emails' AND h.attname = 'received_at') AS bounds`,
      );
      this.loadedAt = Date.now();
      const rows = Number(table?.rows ?? 0);
      if (!table?.bounds || table.bounds.length < 2 || rows <= 0) {
        this.stats = null;
        return;
      }
      this.stats = { rows, frequencies: await this.sampleFrequencies(rows), bounds: table.bounds.map((b) => new Date(b)) };
    } catch (err) {
      this.loadedAt = Date.now();
      this.opts.log?.warn({ err }, 'search statistics could not be read: searches keep the previous candidate windows, or none');
    }
  }

  /**
   * Lexeme frequencies from ts_stat over a sample of ~SAMPLE_ROWS emails (whole pages, TABLESAMPLE SYSTEM), keeping
   * only lexemes frequent enough to get a window. Not ANALYZE's list: it holds the 1,000 most common lexemes only
   * (down to ~6% of the mail at 100k bench emails), and the words just below it are those a window helps most.
   */
  private async sampleFrequencies(rows: number): Promise<Map<string, number>> {
    const percent = Math.min(100, (SAMPLE_ROWS / rows) * 100).toFixed(4);
    const sample = `emails TABLESAMPLE SYSTEM (${percent}) REPEATABLE (${Math.floor(Math.random() * 1e9)})`;
    const minShare = (this.opts.minMatches ?? WINDOW_MIN_MATCHES) / rows;
    const words = await exec<{ word: string; share: number }>(
      this.em(),
      `SELECT w.word, w.ndoc::float8 / s.n AS share
       FROM (SELECT count(*)::float8 AS n FROM ${sample}) s, ts_stat('SELECT search_vector FROM ${sample}') w
       WHERE s.n > 0 AND w.ndoc >= greatest(3, ? * s.n)`,
      [minShare],
    );
    return new Map(words.map((w) => [w.word, Number(w.share)]));
  }
}

/**
 * The `cand` CTE (id, received_at, search_vector of the SEARCH_CANDIDATES most recent emails matching `where`), for
 * a statement's WITH list. With a threshold: the window's matches, and when it holds too few, the most recent older
 * ones (decided in the statement: otherwise that branch never runs). The window's ORDER BY is an expression so that
 * PostgreSQL cannot walk the received_at index for it, which would read every tsvector of the window.
 */
export function candidatesSql(where: SqlPart, threshold: Date | null): SqlPart {
  const all = `SELECT e.id, e.received_at, e.search_vector FROM emails e WHERE ${where.sql}`;
  const newest = `ORDER BY e.received_at DESC, e.id DESC LIMIT ${SEARCH_CANDIDATES}`;
  if (!threshold) return { sql: `cand AS (${all} ${newest})`, params: where.params };
  return {
    sql: `win AS MATERIALIZED (
        ${all} AND e.received_at >= ?
        ORDER BY e.received_at + interval '0 s' DESC, e.id DESC LIMIT ${SEARCH_CANDIDATES}
      ), cand AS (
        SELECT * FROM (
          SELECT * FROM win
          UNION ALL
          (${all} AND e.received_at < ? AND (SELECT count(*) FROM win) < ${SEARCH_CANDIDATES} ${newest})
        ) u ORDER BY u.received_at DESC, u.id DESC LIMIT ${SEARCH_CANDIDATES}
      )`,
    params: [...where.params, threshold, ...where.params, threshold],
  };
}

/** Small raw-SQL helpers for batch writes that the ORM's unit of work would make slow (multi-row upserts). */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { CompiledQuery, type Transaction } from 'kysely';

const MAX_PARAMS = 60_000;

/**
 * MikroORM formats parameters into the SQL text client-side, so values are normalised first: Dates as ISO 8601 UTC
 * (never the driver's local-time rendering), arrays as PostgreSQL array literals (use `?::type[]`).
 */
function param(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return `{${v.map((x) => (typeof x === 'number' ? String(x) : `"${String(x).replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;
  return v;
}

/** Runs a statement inside the EntityManager's current transaction (if any). */
export function exec<T = Record<string, unknown>>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  return em.getConnection().execute<T[]>(sql, params.map(param), 'all', em.getTransactionContext());
}

/**
 * Runs a statement with bound parameters (`$1`, `$2`, …), inside the EntityManager's current transaction (if any). The
 * values travel apart from the SQL text — Buffers as binary — instead of being escaped into it: for bulk inserts of
 * message bodies the client-side formatting (a character-by-character escape and one large string per statement) was
 * a tenth of the sync's main-thread CPU and most of its garbage.
 */
async function execBound<T>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  const connection = em.getConnection();
  await connection.ensureConnection();
  const executor = em.getTransactionContext<Transaction<unknown>>() ?? connection.getClient();
  const res = await executor.executeQuery<T>(CompiledQuery.raw(sql, params.map(param)));
  return [...res.rows];
}

/**
 * Multi-row INSERT with bound parameters, chunked below PostgreSQL's parameter limit. `suffix` is appended verbatim
 * (ON CONFLICT …, RETURNING …); `casts` gives per-column casts such as `jsonb`.
 */
export async function insertRows<T = Record<string, unknown>>(
  em: EntityManager,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  suffix = '',
  casts: Readonly<Record<string, string>> = {},
): Promise<T[]> {
  if (rows.length === 0) return [];
  const perChunk = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  const out: T[] = [];
  const cols = columns.map((c) => `"${c}"`).join(', ');
  for (let i = 0; i < rows.length; i += perChunk) {
    const chunk = rows.slice(i, i + perChunk);
    let n = 0;
    const values = chunk.map(() => `(${columns.map((c) => (casts[c] ? `$${++n}::${casts[c]}` : `$${++n}`)).join(', ')})`);
    const sql = `INSERT INTO "${table}" (${cols}) VALUES ${values.join(', ')} ${suffix}`;
    out.push(...(await execBound<T>(em, sql, chunk.flat())));
  }
  return out;
}

const DELETE_BATCH = 5000;

/**
 * Deletes the rows of `table` matching `where` (its `?` bound to `params`), DELETE_BATCH at a time by `key`; returns
 * how many. `recheck.sql` (over the table's row as `t`, its `?` bound to `recheck.params`) is tested again on the row
 * the DELETE locks: a condition that a concurrent writer may change meanwhile belongs there too (READ COMMITTED re-checks
 * only the DELETE's own quals on the newest row version, not those of the selecting subquery).
 */
export async function deleteInBatches(
  orm: MikroORM,
  table: string,
  key: string,
  where: string,
  params: unknown[],
  recheck: { sql: string; params: unknown[] } = { sql: 'true', params: [] },
): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await exec<{ n: number }>(
      orm.em.fork(),
      `WITH doomed AS (SELECT ${key} FROM ${table} WHERE ${where} ORDER BY ${key} LIMIT ?),
            gone AS (DELETE FROM ${table} t USING doomed WHERE t.${key} = doomed.${key} AND (${recheck.sql}) RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [...params, DELETE_BATCH, ...recheck.params],
    );
    const n = rows[0]!.n;
    total += n;
    if (n < DELETE_BATCH) return total;
  }
}

/**
 * A relation read in its parent's statement, as JSON, instead of by a second query: `sql(id)` is a scalar
 * subquery of the parent row's id expression; `fromJson` turns its value into what the relation's loader holds.
 * Written as `array_to_json(ARRAY(SELECT … ORDER BY …))`: an aggregate's own ORDER BY (`json_agg(x ORDER BY y)`) sorts
 * in a tuplesort of its own per row, which cost 19 µs per email of a page, where the ARRAY form costs 7.
 */
export interface RowEmbed<T> {
  sql(id: string): string;
  fromJson(json: unknown): T;
}

/** The select-list tail (`, <subquery> AS "<alias>"` each, or '') of a statement's embedded relations over row id `id`. */
export function embedColumns(embeds: Readonly<Record<string, RowEmbed<unknown>>> | undefined, id: string): string {
  return Object.entries(embeds ?? {})
    .map(([alias, e]) => `, ${e.sql(id)} AS "${alias}"`)
    .join('');
}

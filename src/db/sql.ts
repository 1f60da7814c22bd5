/** Small raw-SQL helpers for batch writes that the ORM's unit of work would make slow (multi-row upserts). */
import type { EntityManager } from '@mikro-orm/postgresql';

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
 * Multi-row INSERT, chunked below PostgreSQL's parameter limit. `suffix` is appended verbatim (ON CONFLICT …,
 * RETURNING …); `casts` gives per-column casts such as `jsonb`.
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
  const placeholder = `(${columns.map((c) => (casts[c] ? `?::${casts[c]}` : '?')).join(', ')})`;
  const cols = columns.map((c) => `"${c}"`).join(', ');
  for (let i = 0; i < rows.length; i += perChunk) {
    const chunk = rows.slice(i, i + perChunk);
    const sql = `INSERT INTO "${table}" (${cols}) VALUES ${chunk.map(() => placeholder).join(', ')} ${suffix}`;
    out.push(...(await exec<T>(em, sql, chunk.flat())));
  }
  return out;
}

/**
 * Transactions on a plain `pg` pool, handed to pg-boss as its `db` executor: pg-boss's SQL uses `$n` placeholders,
 * which MikroORM's raw execute does not take, and its jobs must commit together with our rows (deliveries, cursor).
 */
import type pg from 'pg';
import type { Db } from 'pg-boss';

export type Tx = { client: pg.PoolClient; db: Db };

export async function withTx<T>(pool: pg.Pool, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const db: Db = { executeSql: (text, values) => client.query(text, values as unknown[]) };
    const result = await fn({ client, db });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

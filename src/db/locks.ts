/**
 * PostgreSQL advisory locks held on a dedicated connection for as long as a piece of work runs (session locks need
 * their session): serialises work on one account across every instance of the server.
 */
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { guardClient, guardPool } from './pg-guard.js';

export class AdvisoryLocks {
  private readonly pool: pg.Pool;

  constructor(url: string, log: Logger, max = 10) {
    this.pool = guardPool(new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 30_000 }), log, 'advisory-locks');
  }

  /**
   * Runs `fn` while holding lock (namespace, id); waits for the lock if another session holds it. If the connection
   * dies meanwhile, its lock is gone with it (PostgreSQL releases a session's locks when it ends); `fn` runs on, and
   * what it writes stays safe through the unique keys it writes under.
   */
  async withLock<T>(namespace: number, id: number, fn: () => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A lock or unlock that failed leaves the client out of the pool (destroyed, which frees any lock it still held).
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [namespace, id]).catch((err: Error) => {
        broken = err;
        throw err;
      });
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [namespace, id]).catch((err: Error) => (broken = err));
      }
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Lock namespaces (the first key of a two-key advisory lock). `events` (second key 0) is a transaction-level lock
 * taken by appendEvents so that event seq order equals commit order (see src/events/outbox.ts); `webhookSweep`
 * (second key 0) is tried by the sweep of deliveries without a job, one instance at a time (src/webhooks/orphan-sweep.ts).
 */
export const LockNamespace = { accountSync: 7101, events: 7102, webhookSweep: 7103 } as const;

/** Start-up locks (single-key advisory locks): instances starting together take turns. */
export const StartupLock = { migrations: 7000, bootstrap: 7001 } as const;

/**
 * Runs `fn` while holding a session advisory lock on a connection of its own (released when it closes). A
 * transaction-level lock taken through a pooled, autocommit connection would be released at the end of its statement.
 */
export async function withSessionLock<T>(url: string, key: number, fn: () => Promise<T>): Promise<T> {
  const client = guardClient(new pg.Client({ connectionString: url }), null, 'startup-lock');
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [key]);
    return await fn();
  } finally {
    await client.end().catch(() => undefined);
  }
}

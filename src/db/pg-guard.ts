/**
 * Keeps a dropped PostgreSQL connection (a restart, a fast shutdown's "terminating connection due to administrator
 * command", a network cut) from taking the process down — what MikroORM does for its own pool, for ours. pg-pool
 * removes its listener from a client while it is checked out, and re-emits idle clients' errors on the pool; an
 * 'error' event without a listener is an uncaught exception. The query in flight still rejects on its own, and the
 * pool discards a broken client when it is released.
 */
import type pg from 'pg';
import type { Logger } from '../shared/logger.js';

export function guardPool(pool: pg.Pool, log: Logger, name: string): pg.Pool {
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn({ err, pool: name }, 'PostgreSQL connection lost'));
  });
  pool.on('error', (err) => log.warn({ err, pool: name }, 'idle PostgreSQL connection lost'));
  return pool;
}

/** The same for a standalone client. */
export function guardClient(client: pg.Client, log: Logger | null, name: string): pg.Client {
  client.on('error', (err) => log?.warn({ err, client: name }, 'PostgreSQL connection lost'));
  return client;
}

/**
 * Keeps a dropped PostgreSQL connection (a restart, a fast shutdown's "terminating connection due to administrator
 * command", a network cut) from taking the process down — what MikroORM does for its own pool, for ours. pg-pool
 * removes its listener from a client while it is checked out, and re-emits idle clients' errors on the pool; an
 * 'error' event without a listener is an uncaught exception. The query in flight still rejects on its own, and the
 * pool discards a broken client when it is released.
 */
import type pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { markConnectionError } from './unavailable.js';

export function guardPool(pool: pg.Pool, log: Logger, name: string): pg.Pool {
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      markConnectionError(err);
      log.warn({ err, pool: name }, 'PostgreSQL connection lost');
    });
  });
  pool.on('error', (err) => log.warn({ err, pool: name }, 'idle PostgreSQL connection lost'));
  return pool;
}

/** The same for a standalone client. */
export function guardClient(client: pg.Client, log: Logger | null, name: string): pg.Client {
  client.on('error', (err) => {
    markConnectionError(err);
    log?.warn({ err, client: name }, 'PostgreSQL connection lost');
  });
  return client;
}

/**
 * Gives back to `pool` a checked-out client whose connection died (a terminated backend, a restart, a network cut),
 * if its holder does not. kysely releases a transaction's connection only after a COMMIT or ROLLBACK that succeeded,
 * so a transaction whose backend was terminated kept its pool slot for good: the ORM's pool ran dry and every request
 * then waited forever (and so did shutdown, for the pool to drain). The holder's own release, if it comes, is a
 * no-op. Only promise-style `connect()` is wrapped: what kysely and MikroORM use.
 */
export function releaseDeadClients(pool: pg.Pool): void {
  // The errors that break the ORM's connections are told apart as "database unavailable" (db/unavailable.ts).
  pool.on('connect', (client) => client.on('error', markConnectionError));
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => Promise<pg.PoolClient> | void;
  pool.connect = ((...args: unknown[]) => (args.length > 0 ? connect(...args) : (connect() as Promise<pg.PoolClient>).then(releasedWhenDead))) as typeof pool.connect;
}

function releasedWhenDead(client: pg.PoolClient): pg.PoolClient {
  const release = client.release.bind(client);
  let released = false;
  const giveBack = (err?: Error | boolean) => {
    if (released) return;
    released = true;
    client.removeListener('end', onEnd);
    release(err);
  };
  const onEnd = () => giveBack(new Error('PostgreSQL connection ended while checked out'));
  client.once('end', onEnd);
  client.release = giveBack;
  return client;
}

/**
 * PostgreSQL advisory locks that serialise work on one account across every instance of the server.
 *
 * One connection of the process holds every lock the process holds (a session may hold any number of advisory
 * locks), so work that then waits on the network — an IMAP pass on a server that hangs mid-command — costs no
 * connection of its own. Each holder used to keep a connection of a pool of 10 for its whole IMAP work: ten hung
 * servers held them all and every other account of the instance waited for one, forever against a server that
 * trickles bytes (test/e2e/sync-hung-servers.test.ts).
 *
 * Session locks are re-entrant, so holders in this process are kept apart here (`held`); the shared connection only
 * ever tries a lock (`pg_try_advisory_lock`). A lock another session holds (another instance) is waited for on a
 * connection of the small `waiters` pool — blocking in PostgreSQL, which grants it in queue order — and tried again
 * on the holding connection once free. Only such contended waits take a pooled connection.
 */
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { guardClient, guardPool } from './pg-guard.js';

/** See the module comment. */
export class AdvisoryLocks {
  private readonly waiters: pg.Pool;
  /** The connection holding this process's locks (null until needed, and after it ended). */
  private holder: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  /** Locks held (or being tried) in this process, each with the promise its release resolves. */
  private readonly held = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly url: string, private readonly log: Logger, maxWaiters = 10) {
    this.waiters = guardPool(new pg.Pool({ connectionString: url, max: maxWaiters, idleTimeoutMillis: 30_000 }), log, 'advisory-lock-waiters');
  }

  /**
   * Runs `fn` while holding lock (namespace, id); waits for the lock if another holder has it. If the holding
   * connection dies meanwhile, its locks are gone with it (PostgreSQL releases a session's locks when it ends); `fn`
   * runs on, and what it writes stays safe through the unique keys it writes under.
   */
  async withLock<T>(namespace: number, id: number, fn: () => Promise<T>): Promise<T> {
    const key = `${namespace}:${id}`;
    for (;;) {
      const busy = this.held.get(key);
      if (busy) {
        await busy;
        continue;
      }
      let release!: () => void;
      this.held.set(key, new Promise<void>((resolve) => (release = resolve)));
      const free = () => {
        this.held.delete(key);
        release();
      };
      let client: pg.Client | null;
      try {
        client = await this.tryLock(namespace, id);
      } catch (err) {
        free();
        throw err;
      }
      if (!client) {
        free();
        await this.waitFree(namespace, id);
        continue;
      }
      try {
        return await fn();
      } finally {
        // Its connection ended meanwhile: the lock went with it.
        if (this.holder === client) await client.query('SELECT pg_advisory_unlock($1, $2)', [namespace, id]).catch((err: Error) => this.drop(client, err));
        free();
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.holder ?? (await this.connecting?.catch(() => null));
    this.holder = null;
    await client?.end().catch(() => undefined);
    await this.waiters.end();
  }

  /** Tries the lock on the holding connection: the connection when it was granted, null when another session has it. */
  private async tryLock(namespace: number, id: number): Promise<pg.Client | null> {
    const client = await this.connection();
    try {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [namespace, id]);
      return rows[0]?.ok ? client : null;
    } catch (err) {
      this.drop(client, err as Error);
      throw err;
    }
  }

  /** Until another session's lock is free: taken (in PostgreSQL's queue) and at once given back, on a waiter connection. */
  private async waitFree(namespace: number, id: number): Promise<void> {
    const client = await this.waiters.connect();
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock($1, $2)', [namespace, id]);
      await client.query('SELECT pg_advisory_unlock($1, $2)', [namespace, id]);
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      // A failed lock or unlock destroys the connection, which frees any lock it still held.
      client.release(broken);
    }
  }

  private connection(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('The advisory locks are closed'));
    if (this.holder) return Promise.resolve(this.holder);
    this.connecting ??= (async () => {
      const client = guardClient(new pg.Client({ connectionString: this.url }), this.log, 'advisory-locks');
      client.on('error', (err) => this.drop(client, err));
      client.once('end', () => this.drop(client));
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      if (this.closed) {
        await client.end().catch(() => undefined);
        throw new Error('The advisory locks are closed');
      }
      this.holder = client;
      return client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** Forgets a holding connection that failed or ended (ending it frees whatever locks it still held). */
  private drop(client: pg.Client, err?: Error): void {
    if (this.holder !== client) return;
    this.holder = null;
    if (err) this.log.warn({ err }, 'advisory-lock connection lost; the locks it held are released');
    client.end().catch(() => undefined);
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

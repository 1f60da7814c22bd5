/** Chooses the database: DATABASE_URL when set, else the embedded PostgreSQL under DATA_DIR. */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../shared/logger.js';
import { errorMessage, StartupError } from '../shared/errors.js';
import { startEmbeddedPostgres } from './embedded.js';
import { isDatabaseUnavailable, isSocketError, registerDatabaseEndpoint } from './unavailable.js';

const WAIT_STEP_MS = 1000;

/** `host:port` of a URL, for messages (never the credentials). */
function where(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}`;
}

/**
 * Waits until the database answers: in a container the application often starts before PostgreSQL does. Retries what
 * means "not there yet" every second for up to `waitMs`; anything else (wrong password, no such database) fails at
 * once. Either way the error names the host and port and points at DATABASE_URL.
 */
export async function waitForDatabase(url: string, waitMs: number, log: Logger, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      if (attempt > 1) log.info({ database: where(url) }, 'database reachable');
      return;
    } catch (err) {
      const reason = errorMessage(err);
      // Only the database is contacted here, so any socket failure (a reset from a proxy or a server still starting,
      // say, which carries no address) means "not there yet" too.
      if (!isDatabaseUnavailable(err) && !isSocketError(err)) {
        throw new StartupError(`PostgreSQL at ${where(url)} refused us: ${reason}. Check DATABASE_URL.`, { cause: err });
      }
      if (Date.now() + WAIT_STEP_MS > deadline) {
        throw new StartupError(`Cannot reach PostgreSQL at ${where(url)} (${reason}) after ${waitMs / 1000} s (DATABASE_WAIT_MS). Is it running, and is DATABASE_URL right?`, { cause: err });
      }
      if (attempt === 1) log.warn({ database: where(url), reason, waitMs }, 'waiting for the database');
      await sleep(WAIT_STEP_MS, undefined, { signal });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

export interface DatabaseHandle {
  readonly url: string;
  readonly embedded: boolean;
  close(): Promise<void>;
}

/**
 * Resolves the connection URL, starting the embedded cluster if needed. `close()` stops what this call started.
 * `signal` (a SIGTERM during start-up) ends the wait for an unreachable DATABASE_URL.
 */
export async function openDatabase(config: Config, log: Logger, signal?: AbortSignal): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    registerDatabaseEndpoint(config.databaseUrl);
    await waitForDatabase(config.databaseUrl, config.databaseWaitMs, log, signal);
    return { url: config.databaseUrl, embedded: false, close: async () => {} };
  }
  const pg = await startEmbeddedPostgres(config.dataDir, log);
  registerDatabaseEndpoint(pg.url);
  return { url: pg.url, embedded: true, close: () => pg.stop() };
}

/** Chooses the database: DATABASE_URL when set, else the embedded PostgreSQL under DATA_DIR. */
import type { Config } from '../config.js';
import type { Logger } from '../shared/logger.js';
import { startEmbeddedPostgres } from './embedded.js';
import { registerDatabaseEndpoint } from './unavailable.js';

export interface DatabaseHandle {
  readonly url: string;
  readonly embedded: boolean;
  close(): Promise<void>;
}

/** Resolves the connection URL, starting the embedded cluster if needed. `close()` stops what this call started. */
export async function openDatabase(config: Config, log: Logger): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    registerDatabaseEndpoint(config.databaseUrl);
    return { url: config.databaseUrl, embedded: false, close: async () => {} };
  }
  const pg = await startEmbeddedPostgres(config.dataDir, log);
  registerDatabaseEndpoint(pg.url);
  return { url: pg.url, embedded: true, close: () => pg.stop() };
}

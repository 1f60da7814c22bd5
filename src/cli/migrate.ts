import type { Config } from '../config.js';
import { migrateUp } from '../db/orm.js';
import type { Logger } from '../shared/logger.js';
import { withOrm } from './with-orm.js';

/** `incoming migrate`: applies pending migrations and lists them. */
export async function runMigrate(config: Config, log: Logger): Promise<number> {
  const applied = await withOrm(config, log, migrateUp);
  console.log(applied.length > 0 ? `Applied: ${applied.join(', ')}` : 'No pending migrations.');
  return 0;
}

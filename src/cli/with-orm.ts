/** Opens the database and ORM for a one-shot CLI command, inside a MikroORM request context, and always closes both. */
import { RequestContext, type MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { openDatabase } from '../db/database.js';
import { initOrm } from '../db/orm.js';
import { entities } from '../modules/entities.js';
import type { Logger } from '../shared/logger.js';

export async function withOrm<T>(config: Config, log: Logger, fn: (orm: MikroORM) => Promise<T>): Promise<T> {
  const db = await openDatabase(config, log);
  try {
    const orm = await initOrm({ url: db.url, entities, poolMax: 2, logger: log });
    try {
      return await RequestContext.create(orm.em, () => fn(orm));
    } finally {
      await orm.close();
    }
  } finally {
    await db.close();
  }
}

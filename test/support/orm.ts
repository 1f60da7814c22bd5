/** A test file's own migrated database with an ORM on it, for tests that call services directly (no HTTP server). */
import { afterAll, beforeAll } from 'vitest';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { entities } from '../../src/modules/entities.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export interface OrmDatabase {
  db: TestDatabase;
  orm: Orm;
}

/** Filled in beforeAll (a clone of the template database), closed and dropped in afterAll. */
export function useOrmDatabase(poolMax = 3): OrmDatabase {
  const env = {} as OrmDatabase;
  beforeAll(async () => {
    env.db = await createTestDatabase();
    env.orm = await initOrm({ url: env.db.url, entities, poolMax });
  });
  afterAll(async () => {
    await env.orm?.close();
    await env.db?.drop();
  });
  return env;
}

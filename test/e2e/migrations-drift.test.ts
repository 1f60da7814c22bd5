/** The entities and the migrations agree: a schema change without its migration fails here, not in production. */
import { describe, expect, it } from 'vitest';
import { useOrmDatabase } from '../support/orm.js';

const t = useOrmDatabase(1);

describe('migrations', () => {
  it('the entities match the last migration’s snapshot (npm run db:migration:check)', async () => {
    expect(await t.orm.migrator.checkSchema()).toBe(false);
  });
});

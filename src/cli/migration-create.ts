/**
 * `npm run db:migration:create [-- --name NAME]` generates a migration from the entity diff against the snapshot;
 * `--check` exits 1 when entities need a migration that does not exist yet (CI drift check).
 */
import { loadConfig } from '../config.js';
import { initOrm } from '../db/orm.js';
import { openDatabase } from '../db/database.js';
import { entities } from '../modules/entities.js';
import { createLogger } from '../logging.js';

const args = process.argv.slice(2);
const check = args.includes('--check');
const nameIdx = args.indexOf('--name');
const name = nameIdx >= 0 ? args[nameIdx + 1] : undefined;

const config = loadConfig();
const log = createLogger(config);
const db = await openDatabase(config, log);
const orm = await initOrm({ url: db.url, entities, logger: log });
try {
  await orm.migrator.up();
  if (check) {
    // checkSchema() is true when the entities differ from the last snapshot, i.e. a migration is missing.
    const needsMigration = await orm.migrator.checkSchema();
    if (needsMigration) {
      console.error('Entities changed without a migration: run `npm run db:migration:create -- --name NAME`.');
      process.exitCode = 1;
    } else {
      console.log('Migrations are up to date with the entities.');
    }
  } else {
    const result = await orm.migrator.create(undefined, false, false, name);
    console.log(result.fileName ? `Created ${result.fileName}` : 'No changes: no migration created.');
  }
} finally {
  await orm.close();
  await db.close();
}

/**
 * MikroORM setup: the PostgreSQL driver, entities passed in by the caller (db/ knows no modules), migrations in
 * ../migrations: their TypeScript sources under tsx and vitest, their compiled files when this module is compiled
 * (bin/build.js).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MikroORM, type EntityManager, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { EntitySchema } from '@mikro-orm/core';
import { StartupLock, withSessionLock } from './locks.js';
import { releaseDeadClients } from './pg-guard.js';
import type { Logger } from '../shared/logger.js';
import { StartupError } from '../shared/errors.js';
import { sqlStateOf } from './sql-errors.js';
import { reserveWithStatementTimeout } from './statement-timeout.js';

export type { EntityManager };
export type Orm = MikroORM;

/** How long an idle pooled connection is kept (see `ormOptions`). */
export const POOL_IDLE_MS = 5 * 60_000;

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
const COMPILED = import.meta.url.endsWith('.js');

export interface OrmOptions {
  url: string;
  entities: EntitySchema[];
  poolMax?: number;
  logger?: Logger;
  debug?: boolean;
}

/** Builds the MikroORM options (also used by the migration generator). */
export function ormOptions(opts: OrmOptions): Options {
  return {
    clientUrl: opts.url,
    entities: opts.entities,
    extensions: [Migrator],
    // Idle connections stay open for minutes, not pg-pool's 10 s: a new PostgreSQL backend loads its catalog caches (and
    // the unaccent rules of full-text search) on its first queries, 20–40 ms more on the first requests after a pause.
    pool: { min: 0, max: opts.poolMax ?? 10, idleTimeoutMillis: POOL_IDLE_MS },
    driverOptions: { onPoolCreated: releaseDeadClients },
    // API reads carry a statement timeout; everything else keeps the server's default (statement-timeout.ts).
    onReserveConnection: reserveWithStatementTimeout,
    debug: opts.debug ?? false,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    ignoreUndefinedInQuery: true,
    logger: (msg) => opts.logger?.debug({ orm: msg }, 'mikro-orm'),
    migrations: {
      path: MIGRATIONS_DIR,
      pathTs: MIGRATIONS_DIR,
      glob: COMPILED ? 'Migration*.js' : 'Migration*.ts',
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: true,
      snapshotOnMigrate: false,
      snapshotName: '.snapshot',
      emit: 'ts',
      silent: true,
    },
    preferTs: !COMPILED,
  };
}

/** Connects to the database. */
export async function initOrm(opts: OrmOptions): Promise<Orm> {
  return MikroORM.init(ormOptions(opts));
}

/** Applies pending migrations; returns their names. */
/**
 * Applies pending migrations. Instances starting together on a new database take turns (a session advisory lock on a
 * connection of its own, released when it closes): two concurrent runs would both try `CREATE TABLE accounts`.
 */
export async function migrateUp(orm: Orm): Promise<string[]> {
  return withSessionLock(orm.config.get('clientUrl')!, StartupLock.migrations, async () => (await orm.migrator.up()).map((m) => m.name));
}

/**
 * With migrations left pending (MIGRATE_ON_START=false), a statement failing on a missing table or column failed for
 * them: the error says to run `incoming migrate` instead of 'relation … does not exist' with a stack trace.
 */
export function explainPendingMigrations(err: unknown, pending: string[]): unknown {
  if (pending.length === 0 || !['42P01', '42703'].includes(sqlStateOf(err) ?? '')) return err;
  return new StartupError(
    `The database schema is behind: ${pending.length} pending migration(s) (${pending.join(', ')}) and MIGRATE_ON_START=false. Run \`incoming migrate\` first.`,
    { cause: err },
  );
}

/** Names of migrations not yet applied (readiness: an instance with pending migrations is not ready). */
export async function pendingMigrations(orm: Orm): Promise<string[]> {
  return (await orm.migrator.getPending()).map((m) => m.name);
}

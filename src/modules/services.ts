/** Builds the service singletons from their dependencies (plain constructor injection, no container). */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Logger } from '../shared/logger.js';
import { AccountsService, type AccountStatsSource, type FolderStateSource, type SyncTrigger } from './accounts/index.js';
import { AuthService, RateLimitService } from './auth/index.js';

export interface Services {
  readonly auth: AuthService;
  readonly rateLimit: RateLimitService;
  readonly accounts: AccountsService;
  /** The sync engine, behind the accounts module's port. */
  readonly sync: SyncTrigger;
  readonly folderStates: FolderStateSource;
}

export interface ServiceDeps {
  orm: MikroORM;
  config: Config;
  log: Logger;
  secretKey: Buffer;
  stats: AccountStatsSource;
  sync: SyncTrigger;
  folderStates: FolderStateSource;
}

export function createServices({ orm, config, log, secretKey, stats, sync, folderStates }: ServiceDeps): Services {
  return {
    auth: new AuthService({ orm, log: log.child({ module: 'auth' }), defaults: config.rateLimit }),
    rateLimit: new RateLimitService(orm),
    accounts: new AccountsService({ orm, secretKey, imapTimeouts: config.imap, log: log.child({ module: 'accounts' }), stats }),
    sync,
    folderStates,
  };
}

/** Builds the service singletons from their dependencies (plain constructor injection, no container). */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Logger } from '../shared/logger.js';
import { AccountsService, type AccountStatsSource, type FolderStateSource, type SyncTrigger } from './accounts/index.js';
import { AuthService, RateLimitService } from './auth/index.js';
import { EmailChangesService, EmailsQueryService } from './emails/index.js';
import { CategoriesService } from './categories/index.js';
import { ThreadsService } from './threads/index.js';
import { AttachmentsService, type BlobLocator } from './attachments/index.js';

export interface Services {
  readonly auth: AuthService;
  readonly rateLimit: RateLimitService;
  readonly accounts: AccountsService;
  /** The sync engine, behind the accounts module's port. */
  readonly sync: SyncTrigger;
  readonly folderStates: FolderStateSource;
  /** Local email changes (read, star, archive, delete) and their write-back queue. */
  readonly emailChanges: EmailChangesService;
  /** The read side of emails: listings, search, stats, folders. */
  readonly emails: EmailsQueryService;
  readonly threads: ThreadsService;
  readonly categories: CategoriesService;
  readonly attachments: AttachmentsService;
}

export interface ServiceDeps {
  orm: MikroORM;
  config: Config;
  log: Logger;
  secretKey: Buffer;
  stats: AccountStatsSource;
  sync: SyncTrigger;
  folderStates: FolderStateSource;
  /** The content-addressed blob store (attachment downloads). */
  blobs: BlobLocator;
}

export function createServices({ orm, config, log, secretKey, stats, sync, folderStates, blobs }: ServiceDeps): Services {
  const emails = new EmailsQueryService(orm);
  return {
    auth: new AuthService({ orm, log: log.child({ module: 'auth' }), defaults: config.rateLimit }),
    rateLimit: new RateLimitService(orm),
    accounts: new AccountsService({ orm, secretKey, imapTimeouts: config.imap, log: log.child({ module: 'accounts' }), stats }),
    sync,
    folderStates,
    emailChanges: new EmailChangesService(orm),
    emails,
    threads: new ThreadsService(orm, emails),
    categories: new CategoriesService(orm),
    attachments: new AttachmentsService({ orm, blobs, log: log.child({ module: 'attachments' }) }),
  };
}

/** Builds the service singletons from their dependencies (plain constructor injection, no container). */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import type { Logger } from '../shared/logger.js';
import { AccountsService, type AccountStatsSource, type FolderStateSource, type SyncTrigger } from './accounts/index.js';
import { AuthService, AuthThrottle, RateLimitService } from './auth/index.js';
import { EmailChangesService, EmailsQueryService, SearchWindows } from './emails/index.js';
import { CategoriesService } from './categories/index.js';
import { ThreadsService } from './threads/index.js';
import { AttachmentUrlSigner, AttachmentsService, type BlobLocator } from './attachments/index.js';
import { EventsService } from './events/index.js';
import type { EventStream } from '../events/index.js';
import { WebhooksService, type DeliveryQueue, type UrlGuard, type WebhookSender } from './webhooks/index.js';
import { IdempotencyService } from './idempotency/index.js';

export interface Services {
  readonly auth: AuthService;
  readonly rateLimit: RateLimitService;
  /** `Idempotency-Key` claims and stored answers of write requests. */
  readonly idempotency: IdempotencyService;
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
  readonly attachmentUrls: AttachmentUrlSigner;
  /** Subscriptions to the durable event stream (live and replayed). */
  readonly events: EventsService;
  /** Webhook subscriptions, test deliveries and the delivery log. */
  readonly webhooks: WebhooksService;
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
  /** This process's reader of the outbox (started and closed by the server). */
  eventStream: EventStream;
  /** The URL guard, the signed sender and the delivery engine's queue (bound late: the engine needs the services). */
  webhookDelivery: { guard: UrlGuard; sender: WebhookSender; queue: DeliveryQueue };
}

export function createServices({ orm, config, log, secretKey, stats, sync, folderStates, blobs, eventStream, webhookDelivery }: ServiceDeps): Services {
  const emails = new EmailsQueryService(orm, new SearchWindows(() => orm.em.fork(), { log: log.child({ module: 'search' }) }));
  const accounts = new AccountsService({ orm, secretKey, imapTimeouts: config.imap, log: log.child({ module: 'accounts' }), stats });
  const emailChanges = new EmailChangesService(orm);
  accounts.onBeforeDelete((em, accountId, opts) => emailChanges.onAccountDelete(em, accountId, opts));
  accounts.onMailboxChange((em, accountId) => emailChanges.onAccountMailboxChange(em, accountId));
  return {
    auth: new AuthService({ orm, log: log.child({ module: 'auth' }), defaults: config.rateLimit, throttle: new AuthThrottle(orm, config.authFailures) }),
    rateLimit: new RateLimitService(orm),
    idempotency: new IdempotencyService(orm, secretKey),
    accounts,
    sync,
    folderStates,
    emailChanges,
    emails,
    threads: new ThreadsService(orm, emails),
    categories: new CategoriesService(orm),
    attachments: new AttachmentsService({ orm, blobs, log: log.child({ module: 'attachments' }) }),
    attachmentUrls: new AttachmentUrlSigner(secretKey, config.attachmentUrlTtlSeconds),
    events: new EventsService(orm, eventStream),
    webhooks: new WebhooksService({ orm, secretKey, maxPerKey: config.webhooks.maxPerKey, ...webhookDelivery }),
  };
}

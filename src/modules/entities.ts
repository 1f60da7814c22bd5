/** Every MikroORM entity, listed once for the ORM config and the migration generator. */
import { Account } from './accounts/account.entity.js';
import { ApiKey, AuthFailureCounter, RateLimitCounter } from './auth/api-key.entity.js';
import { Attachment, Email, EmailDeparture, FolderState, RawSource } from './emails/email.entity.js';
import { WriteBack } from './emails/write-back.entity.js';
import { Thread } from './threads/thread.entity.js';
import { Category, EmailCategory } from './categories/category.entity.js';
import { EventRecord } from '../events/event.entity.js';
import { SyncLease } from '../db/lease.entity.js';
import { Webhook, WebhookDelivery, WebhookDispatchCursor } from './webhooks/webhook.entity.js';
import { IdempotencyKey } from './idempotency/idempotency-key.entity.js';

export const entities = [ApiKey, RateLimitCounter, AuthFailureCounter, Account, Email, Attachment, FolderState, RawSource, EmailDeparture, Thread, EventRecord, SyncLease, WriteBack, Category, EmailCategory, Webhook, WebhookDelivery, WebhookDispatchCursor, IdempotencyKey];

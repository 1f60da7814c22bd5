import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from '../accounts/account.entity.js';

/**
 * A webhook subscription. The signing secret is sealed with AES-256-GCM bound to the row id (like IMAP passwords):
 * it is needed in clear to sign, so it cannot be hashed, and it is returned only once, at creation.
 * `account` narrows the events to one account (null: every account). `ownerKeyId` is the API key that created the webhook
 * or last changed it: deliveries carry mail, so they stop (the webhook is disabled with the reason) once that key could
 * no longer read it (webhook-owner.ts). Null for webhooks created before owners were recorded.
 */
export const Webhook = defineEntity({
  name: 'Webhook',
  tableName: 'webhooks',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(100).nullable(),
    url: p.string().length(2048),
    events: p.json<string[]>(),
    secretSealed: p.text(),
    isActive: p.boolean().default(true),
    account: () => p.manyToOne(Account).nullable().deleteRule('cascade').index('webhooks_account'),
    /** A plain id, not a foreign key: it outlives a deleted key, whose webhooks must then stop too. */
    ownerKeyId: p.integer().nullable().index('webhooks_owner_key'),
    triggerCount: p.integer().default(0),
    lastTriggeredAt: p.datetime().nullable(),
    lastSuccessAt: p.datetime().nullable(),
    lastFailureAt: p.datetime().nullable(),
    consecutiveFailures: p.integer().default(0),
    disabledReason: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Webhook = InferEntity<typeof Webhook>;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * One event for one webhook: created once by the dispatcher (unique (webhook, event)), then updated by every attempt
 * (`attempt` counts them; the other fields describe the last one). `webhook-id` is derived from this pair, so it is the
 * same across retries and redeliveries.
 */
export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  uniques: [{ name: 'webhook_deliveries_webhook_event', properties: ['webhook', 'eventId'] }],
  indexes: [{ name: 'webhook_deliveries_webhook_id', properties: ['webhook', 'id'] }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    webhook: () => p.manyToOne(Webhook).deleteRule('cascade'),
    eventId: p.string().length(64),
    eventType: p.string().length(64),
    attempt: p.integer().default(0),
    status: p.enum(DELIVERY_STATUSES).default('pending'),
    httpCode: p.integer().nullable(),
    latencyMs: p.integer().nullable(),
    error: p.text().nullable(),
    responseBody: p.text().nullable(),
    nextAttemptAt: p.datetime().nullable(),
    lastAttemptAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    deliveredAt: p.datetime().nullable(),
  },
});
export type WebhookDelivery = InferEntity<typeof WebhookDelivery>;

/** The dispatcher's position in the event outbox (one row, id 1): moved in the transaction that enqueues the jobs. */
export const WebhookDispatchCursor = defineEntity({
  name: 'WebhookDispatchCursor',
  tableName: 'webhook_dispatch_cursor',
  properties: {
    id: p.integer().primary(),
    lastSeq: p.bigint('string'),
  },
});
export type WebhookDispatchCursor = InferEntity<typeof WebhookDispatchCursor>;

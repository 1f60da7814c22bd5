import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * The outbox: one row per observable change, written in the same transaction as the change. `seq` is the resume
 * cursor; `id` is derived from what happened, so re-announcing the same thing never creates a second event.
 */
export const EventRecord = defineEntity({
  name: 'EventRecord',
  tableName: 'events',
  indexes: [{ name: 'events_account_seq', properties: ['accountId', 'seq'] }],
  properties: {
    seq: p.bigint('string').primary().autoincrement(),
    id: p.string().length(64).unique(),
    type: p.string().length(64),
    accountId: p.integer().nullable(),
    payload: p.json<Record<string, unknown>>(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type EventRecord = InferEntity<typeof EventRecord>;

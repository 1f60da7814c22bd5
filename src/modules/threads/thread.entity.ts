import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from '../accounts/account.entity.js';

/** A conversation: emails linked by In-Reply-To / References. */
export const Thread = defineEntity({
  name: 'Thread',
  tableName: 'threads',
  properties: {
    id: p.integer().primary().autoincrement(),
    account: () => p.manyToOne(Account).nullable().deleteRule('set null').index('threads_account'),
    subject: p.text().nullable(),
    messageCount: p.integer().default(0),
    lastMessageAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type Thread = InferEntity<typeof Thread>;

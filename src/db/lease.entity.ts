import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** Which server instance owns an account's IMAP session; renewed by heartbeat, taken over once expired. */
export const SyncLease = defineEntity({
  name: 'SyncLease',
  tableName: 'sync_leases',
  properties: {
    accountId: p.integer().primary().autoincrement(false),
    owner: p.string().length(100),
    expiresAt: p.datetime(),
    acquiredAt: p.datetime(),
  },
});
export type SyncLease = InferEntity<typeof SyncLease>;

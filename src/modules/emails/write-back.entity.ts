import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from '../accounts/account.entity.js';

export const WRITE_BACK_ACTIONS = ['seen', 'unseen', 'flag', 'unflag', 'delete'] as const;
export type WriteBackAction = (typeof WRITE_BACK_ACTIONS)[number];

/**
 * The write-back queue: a local change (flag, delete) that still has to reach the IMAP server. The row names the
 * message by its server identity (folder, UIDVALIDITY, UID), so a delete survives the email row it came from (and,
 * for a delete, by its content identity, which finds the message again after a UIDVALIDITY reset or a move). The
 * account's session drains the queue; `modseq` is the MODSEQ the change was based on (UNCHANGEDSINCE), so a change made
 * on the server meanwhile wins. Done rows are deleted; rows that failed for good stay as `failed` for inspection.
 */
export const WriteBack = defineEntity({
  name: 'WriteBack',
  tableName: 'write_backs',
  indexes: [{ name: 'write_backs_due', properties: ['account', 'status', 'nextAttemptAt'] }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    account: () => p.manyToOne(Account).deleteRule('cascade'),
    emailId: p.integer().nullable().index('write_backs_email'),
    folder: p.string().length(1000),
    uidValidity: p.bigint('number'),
    uid: p.bigint('number'),
    action: p.enum(WRITE_BACK_ACTIONS),
    modseq: p.bigint('string').nullable(),
    /** A delete's message by content (the email's Message-ID and header hash): it follows a reset or a move. */
    messageId: p.string().length(1000).nullable(),
    headerHash: p.string().length(64).nullable(),
    status: p.enum(['pending', 'failed'] as const).default('pending'),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime().onCreate(() => new Date()),
    lastError: p.text().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type WriteBack = InferEntity<typeof WriteBack>;

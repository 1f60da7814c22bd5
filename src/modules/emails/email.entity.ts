import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Account } from '../accounts/account.entity.js';

export interface EmailAddress {
  email: string;
  name: string;
}

/**
 * One message in one folder of one account. Identity on the server: (account, folder, uid_validity, uid). Identity of
 * the content: message_id + header_hash (used to keep local state across a UIDVALIDITY reset).
 */
export const Email = defineEntity({
  name: 'Email',
  tableName: 'emails',
  uniques: [{ name: 'emails_server_identity', properties: ['account', 'folder', 'uidValidity', 'uid'] }],
  indexes: [
    { name: 'emails_account_received', properties: ['account', 'receivedAt'] },
    { name: 'emails_content_identity', properties: ['account', 'folder', 'messageId', 'headerHash'] },
    { name: 'emails_message_id', properties: ['account', 'messageId'] },
    // The raw-source and blob sweeps look emails up by raw_blob.
    { name: 'emails_raw_blob', properties: ['rawBlob'] },
  ],
  properties: {
    id: p.integer().primary().autoincrement(),
    /** Null once the account was deleted with delete_emails=false: the mail is kept, detached. */
    account: () => p.manyToOne(Account).nullable().deleteRule('set null'),
    folder: p.string().length(1000),
    uidValidity: p.bigint('number'),
    uid: p.bigint('number'),
    modseq: p.bigint('string').nullable(),
    messageId: p.string().length(1000).nullable(),
    headerHash: p.string().length(64),
    fromAddress: p.string().length(1000).nullable(),
    fromName: p.string().length(1000).nullable(),
    toAddresses: p.json<EmailAddress[]>(),
    ccAddresses: p.json<EmailAddress[]>(),
    replyTo: p.string().length(1000).nullable(),
    subject: p.text().nullable(),
    bodyText: p.text().nullable().lazy(),
    bodyHtml: p.text().nullable().lazy(),
    headers: p.json<Record<string, string>>().lazy(),
    inReplyTo: p.string().length(1000).nullable(),
    references: p.json<string[]>(),
    receivedAt: p.datetime(),
    sentAt: p.datetime().nullable(),
    readAt: p.datetime().nullable(),
    isRead: p.boolean().default(false),
    isStarred: p.boolean().default(false),
    isArchived: p.boolean().default(false),
    flags: p.json<string[]>(),
    hasAttachments: p.boolean().default(false),
    attachmentCount: p.integer().default(0),
    size: p.integer().default(0),
    rawBlob: p.string().length(64),
    parseError: p.text().nullable(),
    /** Set when a local change (flags, delete) could not be written back to the IMAP server for good. */
    syncError: p.text().nullable(),
    threadId: p.integer().nullable().index('emails_thread'),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Email = InferEntity<typeof Email>;

/** A file of an email, stored content-addressed in the blob store (checksum = blob key). */
export const Attachment = defineEntity({
  name: 'Attachment',
  tableName: 'attachments',
  properties: {
    id: p.integer().primary().autoincrement(),
    email: () => p.manyToOne(Email).deleteRule('cascade').index('attachments_email'),
    filename: p.string().length(255),
    originalFilename: p.string().length(1000).nullable(),
    mimeType: p.string().length(255),
    fileSize: p.integer(),
    isInline: p.boolean().default(false),
    contentId: p.string().length(1000).nullable(),
    checksum: p.string().length(64).index('attachments_checksum'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type Attachment = InferEntity<typeof Attachment>;

/**
 * A raw RFC 822 source of at most RAW_INLINE_MAX_BYTES, stored in PostgreSQL instead of as a blob file (key = the same
 * sha256 hex a blob file would have, so `emails.raw_blob` names either). Written in the transaction that stores its
 * email; rows no email references are removed by the sweep after a grace period.
 */
export const RawSource = defineEntity({
  name: 'RawSource',
  tableName: 'raw_sources',
  properties: {
    key: p.string().length(64).primary(),
    data: p.blob(),
    /** Refreshed when an identical source is stored again, so the sweep's grace period protects a re-used row. */
    storedAt: p.datetime().defaultRaw('now()'),
  },
});
export type RawSource = InferEntity<typeof RawSource>;

/** Per-folder sync cursor. It advances only in the transaction that stored the messages up to it. */
export const FolderState = defineEntity({
  name: 'FolderState',
  tableName: 'folder_states',
  properties: {
    account: () => p.manyToOne(Account).primary().deleteRule('cascade'),
    folder: p.string().length(1000).primary(),
    uidValidity: p.bigint('number').nullable(),
    /** Every UID below this has been stored (or skipped as outside since_date). */
    uidNext: p.bigint('number').default(1),
    highestModseq: p.bigint('string').nullable(),
    messages: p.integer().default(0),
    lastSyncAt: p.datetime().nullable(),
    /**
     * The end of the folder's first complete pass under its current UIDVALIDITY (null: none yet). Mail stored in it
     * after this was new on the server then; before, the pass may still be storing what the folder already held (a
     * queued delete follows only the former: MailboxStateService.arrivedCopies).
     */
    syncedSince: p.datetime().nullable(),
    lastError: p.text().nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type FolderState = InferEntity<typeof FolderState>;

/**
 * An email the server expunged from a synced folder, remembered for a while by its content identity: when the same
 * message shows up in another synced folder (a move on the server), it comes back under its id with its local state.
 */
export const EmailDeparture = defineEntity({
  name: 'EmailDeparture',
  tableName: 'email_departures',
  indexes: [
    { name: 'email_departures_identity', properties: ['account', 'headerHash'] },
    { name: 'email_departures_departed_at', properties: ['departedAt'] },
  ],
  properties: {
    emailId: p.integer().primary().autoincrement(false),
    account: () => p.manyToOne(Account).deleteRule('cascade').updateRule('cascade'),
    folder: p.string().length(1000),
    messageId: p.string().length(1000).nullable(),
    headerHash: p.string().length(64),
    isArchived: p.boolean(),
    /** Categories assigned by hand (rules assign theirs again when the message is stored). */
    categoryIds: p.json<number[]>(),
    /** Its attachments' ids, in order: the moved email's attachments keep them (download URLs stay valid). */
    attachmentIds: p.json<number[]>(),
    /** Its thread: the moved email goes back into it (its thread id, like its own, stays valid). */
    threadId: p.integer().nullable(),
    departedAt: p.datetime(),
  },
});
export type EmailDeparture = InferEntity<typeof EmailDeparture>;

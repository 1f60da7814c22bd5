/**
 * An email as the read API sees it: a plain row read with raw SQL (the listing queries need keyset and full-text
 * clauses the ORM cannot express), camelCased by column aliases. Bodies and headers are only in `EmailDetail`: listings
 * never read them, GraphQL fetches them per page through a DataLoader when asked.
 */
import type { EmailAddress } from './email.entity.js';

export interface EmailRow {
  id: number;
  accountId: number | null;
  /** The IMAP UID (as text: the contract's `message_uid`). */
  messageUid: string;
  messageId: string | null;
  folder: string;
  fromAddress: string | null;
  fromName: string | null;
  toAddresses: EmailAddress[];
  ccAddresses: EmailAddress[];
  replyTo: string | null;
  subject: string | null;
  inReplyTo: string | null;
  references: string[];
  receivedAt: Date;
  sentAt: Date | null;
  readAt: Date | null;
  isRead: boolean;
  isStarred: boolean;
  isArchived: boolean;
  hasAttachments: boolean;
  attachmentCount: number;
  size: number;
  parseError: string | null;
  syncError: string | null;
  threadId: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface EmailBodies {
  bodyText: string | null;
  bodyHtml: string | null;
  headers: Record<string, string>;
}

export type EmailDetail = EmailRow & EmailBodies;

/** SELECT list for `emails e` producing an EmailRow. */
export const EMAIL_COLUMNS = `e.id, e.account_id AS "accountId", e.uid::text AS "messageUid", e.message_id AS "messageId", e.folder,
  e.from_address AS "fromAddress", e.from_name AS "fromName", e.to_addresses AS "toAddresses", e.cc_addresses AS "ccAddresses",
  e.reply_to AS "replyTo", e.subject, e.in_reply_to AS "inReplyTo", e."references", e.received_at AS "receivedAt",
  e.sent_at AS "sentAt", e.read_at AS "readAt", e.is_read AS "isRead", e.is_starred AS "isStarred", e.is_archived AS "isArchived",
  e.has_attachments AS "hasAttachments", e.attachment_count AS "attachmentCount", e.size, e.parse_error AS "parseError",
  e.sync_error AS "syncError", e.thread_id AS "threadId", e.created_at AS "createdAt", e.updated_at AS "updatedAt"`;

export const BODY_COLUMNS = 'e.body_text AS "bodyText", e.body_html AS "bodyHtml", e.headers';

/** A timestamp column as a Date, whatever the pg type parser setup. */
export const asDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : asDate(v));

/** Normalises a row fresh from the driver, in place (timestamps as Date whatever the pg type parser setup). */
export function toEmailRow<T extends EmailRow>(r: T): T {
  r.receivedAt = asDate(r.receivedAt);
  r.sentAt = dateOrNull(r.sentAt);
  r.readAt = dateOrNull(r.readAt);
  r.createdAt = asDate(r.createdAt);
  r.updatedAt = asDate(r.updatedAt);
  return r;
}

/** Emails, threads, folders and statistics in the documented REST shapes (seed 000 "Emails", seed 004). */
import type {
  AttachmentFieldsFragment,
  EmailCategoryFieldsFragment,
  EmailListFieldsFragment,
  EmailStatsFieldsFragment,
  ThreadFieldsFragment,
} from '../../graphql/generated/operations.js';
import { restId, restTime } from '../presenters.js';
import { restAttachment } from './attachments.js';

const idOrNull = (id: string | null | undefined) => (id === null || id === undefined ? null : restId(id));

interface EmailExtras {
  bodyText?: string | null;
  bodyHtml?: string | null;
  headers?: unknown;
  attachments?: AttachmentFieldsFragment[];
  categories?: EmailCategoryFieldsFragment[];
  threadEmails?: (EmailListFieldsFragment & EmailExtras)[];
}

export const restCategory = (c: EmailCategoryFieldsFragment) => ({ id: restId(c.id), name: c.name, slug: c.slug, color: c.color ?? null });

/**
 * A Message-ID as the header writes it, in angle brackets (`<id@host>`): stored without them (they are no part of the
 * id, RFC 5322 §3.6.4), shown with them as the documented API does. Seed 000's example reads `"message_id": ""`, the
 * web page having taken `<…>` for an HTML tag (its plain e-mail addresses were cloaked instead); PHP's IMAP headers
 * and Brevo's `messageId`, which that API's send response passes on, both carry the brackets.
 */
const msgId = (id: string | null | undefined): string | null => (id ? `<${id}>` : null);

/**
 * An email in the documented key order. Listings carry no body_text/body_html/headers/attachments (fetch
 * `GET /api/emails/{id}`); the detail has them all. thread_id, thread_count, in_reply_to, sync_error and the detail's
 * thread_emails are additions (thread_* from seed 004).
 */
export function restEmail(e: EmailListFieldsFragment & EmailExtras): Record<string, unknown> {
  return {
    id: restId(e.id),
    account_id: idOrNull(e.accountId),
    message_uid: e.messageUid,
    message_id: msgId(e.messageId),
    folder: e.folder,
    from_address: e.fromAddress ?? null,
    from_name: e.fromName ?? null,
    to_addresses: e.toAddresses,
    cc_addresses: e.ccAddresses,
    reply_to: e.replyTo ?? null,
    subject: e.subject ?? null,
    ...(e.bodyText !== undefined ? { body_text: e.bodyText } : {}),
    ...(e.bodyHtml !== undefined ? { body_html: e.bodyHtml } : {}),
    ...(e.headers !== undefined ? { headers: e.headers } : {}),
    received_at: restTime(e.receivedAt),
    read_at: restTime(e.readAt),
    is_read: e.isRead,
    is_starred: e.isStarred,
    is_archived: e.isArchived,
    has_attachments: e.hasAttachments,
    attachment_count: e.attachmentCount,
    ...(e.attachments ? { attachments: e.attachments.map(restAttachment) } : {}),
    ...(e.categories ? { categories: e.categories.map(restCategory) } : {}),
    thread_id: idOrNull(e.threadId),
    thread_count: e.threadCount,
    in_reply_to: msgId(e.inReplyTo),
    sync_error: e.syncError ?? null,
    created_at: restTime(e.createdAt),
    updated_at: restTime(e.updatedAt),
    // Seed 004's detail: the other emails of the thread, with bodies (the first 50; /api/emails/{id}/thread pages).
    ...(e.threadEmails ? { thread_emails: e.threadEmails.map(restEmail) } : {}),
  };
}

/** `meta` beside `data` for paginated lists. */
export function restPageMeta(p: { page: number | null; perPage: number; totalCount: number; totalPages: number }) {
  return { page: p.page ?? 1, per_page: p.perPage, total: p.totalCount, total_pages: p.totalPages };
}

type FolderRow = EmailStatsFieldsFragment['folders'][number];
export const restFolder = (f: FolderRow) => ({ account_id: idOrNull(f.accountId), folder: f.folder, total: f.total, unread: f.unread });

/** `GET /api/emails/stats`. */
export function restEmailStats(s: EmailStatsFieldsFragment) {
  return {
    total_emails: s.totalEmails,
    unread_emails: s.unreadEmails,
    starred_emails: s.starredEmails,
    archived_emails: s.archivedEmails,
    with_attachments: s.withAttachments,
    total_threads: s.totalThreads,
    folders: s.folders.map(restFolder),
    latest_email_at: restTime(s.latestEmailAt),
    oldest_email_at: restTime(s.oldestEmailAt),
  };
}

/** `GET /api/stats` (seed 004 "statistics"): folders as a map of name → count, summed over accounts. */
export function restStatistics(s: EmailStatsFieldsFragment) {
  // No prototype: a folder may be called "__proto__".
  const folders = Object.create(null) as Record<string, number>;
  for (const f of s.folders) folders[f.folder] = (folders[f.folder] ?? 0) + f.total;
  return { total_emails: s.totalEmails, total_threads: s.totalThreads, unread_emails: s.unreadEmails, folders };
}

export function restThread(t: ThreadFieldsFragment & { emails?: (EmailListFieldsFragment & EmailExtras)[] }) {
  return {
    id: restId(t.id),
    account_id: idOrNull(t.accountId),
    subject: t.subject ?? null,
    message_count: t.messageCount,
    // Seed 004's listing items carry the thread's size as thread_count (and its id as thread_id).
    thread_id: restId(t.id),
    thread_count: t.messageCount,
    last_message_at: restTime(t.lastMessageAt),
    created_at: restTime(t.createdAt),
    ...(t.emails ? { emails: t.emails.map(restEmail) } : {}),
  };
}

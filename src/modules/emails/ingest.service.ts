/**
 * Stores what the sync engine fetched and parsed: one transaction per batch writes the emails, their attachments,
 * enrichment (hooks) and `email.received` events, and advances the folder cursor — so a crash mid-sync loses nothing
 * and a repeated batch duplicates nothing (unique server identity + ON CONFLICT DO NOTHING).
 */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { appendEvents, type NewEvent } from '../../events/index.js';
import { lockRowsInIdOrder } from '../../db/rows.js';
import { exec, insertRows } from '../../db/sql.js';
import { isDataError } from '../../db/sql-errors.js';
import { errorMessage } from '../../shared/errors.js';
import { claimDepartures, DEFAULT_MOVE_WINDOW_MS, restoreDepartures, type ClaimedDeparture } from './departures.js';
import type { BatchResult, IngestHook, IngestMessage, StoredEmail } from './ingest.types.js';

export interface BatchInput {
  accountId: number;
  folder: string;
  uidValidity: number;
  messages: readonly IngestMessage[];
  /** Every UID below this is now stored: the folder cursor moves here (never backwards). */
  uidNext: number;
}

/** What identifies a message's content, fetched cheaply (flags + BODY[HEADER]) before any body is downloaded. */
export interface MessageIdentity {
  uid: number;
  messageId: string | null;
  headerHash: string;
  modseq: string | null;
  flags: string[];
}

const EMAIL_COLUMNS = [
  'account_id', 'folder', 'uid_validity', 'uid', 'modseq', 'message_id', 'header_hash', 'from_address', 'from_name',
  'to_addresses', 'cc_addresses', 'reply_to', 'subject', 'body_text', 'body_html', 'headers', 'in_reply_to', 'references',
  'received_at', 'sent_at', 'read_at', 'is_read', 'is_starred', 'is_archived', 'flags', 'has_attachments',
  'attachment_count', 'size', 'raw_blob', 'parse_error', 'created_at', 'updated_at',
] as const;
const JSON_COLUMNS = { to_addresses: 'jsonb', cc_addresses: 'jsonb', headers: 'jsonb', references: 'jsonb', flags: 'jsonb' };
const ATTACHMENT_COLUMNS = ['email_id', 'filename', 'original_filename', 'mime_type', 'file_size', 'is_inline', 'content_id', 'checksum', 'created_at'] as const;

/** `size` is an int4: a message over 2 GiB (IMAP allows 4 GiB) is recorded as 2 GiB rather than refused. */
const MAX_INT4 = 2 ** 31 - 1;
// PostgreSQL text cannot hold NUL; hostile mail sometimes carries it.
const clean = (s: string | null): string | null => (s === null ? null : s.replace(/\0/g, ''));
const cleanJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? x.replace(/\0/g, '') : x));

function receivedAt(m: IngestMessage): Date {
  return m.internalDate ?? m.date ?? new Date();
}

/**
 * The stale rows of a UIDVALIDITY reset that have the content identity of one of the messages (params: the messages,
 * then account, folder and UIDVALIDITY twice). Each lookup is an index probe (emails_message_id, or
 * emails_content_identity for messages without a Message-ID; `IS NOT DISTINCT FROM` could use neither).
 */
const STALE_MATCHES = `
  WITH m AS (
    SELECT m.*, row_number() OVER (PARTITION BY m.message_id, m.header_hash ORDER BY m.uid) AS rn
    FROM jsonb_to_recordset(?::jsonb) AS m(uid bigint, modseq bigint, flags jsonb, seen boolean, flagged boolean, message_id text, header_hash text)
  ), hits AS (
    SELECT DISTINCT e.id, e.message_id, e.header_hash FROM m CROSS JOIN LATERAL (
      SELECT id, message_id, header_hash FROM emails
      WHERE account_id = ? AND folder = ? AND message_id = m.message_id AND header_hash = m.header_hash AND uid_validity <> ?
      UNION ALL
      SELECT id, message_id, header_hash FROM emails
      WHERE m.message_id IS NULL AND account_id = ? AND folder = ? AND message_id IS NULL AND header_hash = m.header_hash AND uid_validity <> ?
    ) e
  )`;
/** Pairs the messages with those rows, the n-th copy with the n-th row, and moves the rows to their new UIDs. */
const REMATCH_SQL = `${STALE_MATCHES}, pairs AS (
    SELECT h.id, m.uid, m.modseq, m.flags, m.seen, m.flagged
    FROM (SELECT hits.*, row_number() OVER (PARTITION BY message_id, header_hash ORDER BY id) AS rn FROM hits) h
    JOIN m ON m.header_hash = h.header_hash AND m.message_id IS NOT DISTINCT FROM h.message_id AND m.rn = h.rn
  )
  UPDATE emails e SET uid_validity = ?, uid = p.uid, modseq = p.modseq, flags = p.flags, is_read = p.seen, is_starred = p.flagged, updated_at = now()
  FROM pairs p WHERE e.id = p.id
  RETURNING p.uid`;

function emailRow(b: BatchInput, m: IngestMessage, now: Date, isArchived = false): unknown[] {
  const seen = m.flags.includes('\\Seen');
  return [
    b.accountId, b.folder, b.uidValidity, m.uid, m.modseq, clean(m.messageId), m.headerHash, clean(m.from?.email ?? null),
    clean(m.from?.name || null), cleanJson(m.to), cleanJson(m.cc), clean(m.replyTo), clean(m.subject), clean(m.bodyText),
    clean(m.bodyHtml), cleanJson(m.headers), clean(m.inReplyTo), cleanJson(m.references), receivedAt(m), m.date,
    seen ? now : null, seen, m.flags.includes('\\Flagged'), isArchived, cleanJson(m.flags), m.attachments.length > 0,
    m.attachments.length, Math.min(m.size, MAX_INT4), m.rawBlobKey, clean(m.parseError), now, now,
  ];
}

function receivedEvent(e: StoredEmail): NewEvent<'email.received'> {
  const m = e.message;
  return {
    type: 'email.received',
    accountId: e.accountId,
    // The email: each stored email is announced once (byte-identical copies are two emails, two events). An email
    // that keeps its id through a UIDVALIDITY reset or a move on the server is never inserted again.
    identity: String(e.id),
    payload: {
      emailId: e.id,
      accountId: e.accountId,
      folder: e.folder,
      messageId: m.messageId,
      subject: m.subject,
      fromAddress: m.from?.email ?? null,
      fromName: m.from?.name ?? null,
      receivedAt: e.receivedAt.toISOString(),
      hasAttachments: m.attachments.length > 0,
    },
  };
}

function movedEvent(e: StoredEmail, fromFolder: string): NewEvent<'email.moved'> {
  return {
    type: 'email.moved',
    accountId: e.accountId,
    identity: `${e.id}\0${e.folder}\0${e.message.uid}`,
    payload: { emailId: e.id, accountId: e.accountId, folder: e.folder, fromFolder, messageId: e.messageId },
  };
}

/**
 * Raw sources kept inline go into `raw_sources` before the emails that name them, in the same transaction. An identical
 * source stored before refreshes `stored_at` (and takes the row lock), so a concurrent sweep cannot remove it.
 */
async function storeRawSources(em: EntityManager, messages: readonly IngestMessage[], now: Date): Promise<void> {
  const rows = new Map<string, Buffer>();
  for (const m of messages) if (m.rawSource) rows.set(m.rawBlobKey, m.rawSource);
  await insertRows(em, 'raw_sources', ['key', 'data', 'stored_at'], [...rows].map(([key, data]) => [key, data, now]),
    'ON CONFLICT ("key") DO UPDATE SET "stored_at" = EXCLUDED."stored_at"');
}

/**
 * A message as stored when PostgreSQL refused its parsed content: what IMAP said of it (UID, flags, size, dates) and
 * its raw source, with the reason as `parse_error`; `/raw` and the raw download still have everything. Its attachment
 * files, unreferenced, go with the orphan sweep.
 */
function withoutContent(m: IngestMessage, err: unknown): IngestMessage {
  const reason = errorMessage(err);
  return {
    ...m, messageId: null, subject: null, from: null, to: [], cc: [], replyTo: null, inReplyTo: null, references: [],
    headers: {}, bodyText: null, bodyHtml: null, attachments: [],
    parseError: `stored without its parsed content: the database refused it (${reason})`.slice(0, 1000),
  };
}

export class IngestService {
  private readonly hooks: IngestHook[] = [];

  constructor(
    private readonly orm: MikroORM,
    private readonly moveWindowMs = DEFAULT_MOVE_WINDOW_MS,
  ) {}

  /** Registers an enrichment hook (runs inside each batch transaction, in registration order). */
  addHook(hook: IngestHook): void {
    this.hooks.push(hook);
  }

  /**
   * Stores one batch atomically; see the file comment. Messages moved here on the server take back their email. A
   * batch PostgreSQL refuses for its content (a value over a limit no cap foresaw) is stored one message at a time:
   * one message must not hold back the others, nor, since the folder cursor cannot pass it, every later sync.
   */
  async storeBatch(b: BatchInput): Promise<BatchResult> {
    try {
      return await this.storeAtomically(b);
    } catch (err) {
      if (b.messages.length === 0 || !isDataError(err)) throw err;
      return this.storeOneByOne(b);
    }
  }

  /** Each message in its own transaction; one refused even alone is stored without its parsed content. */
  private async storeOneByOne(b: BatchInput): Promise<BatchResult> {
    const out: BatchResult = { inserted: [], moved: 0, skipped: 0 };
    const messages = [...b.messages].sort((x, y) => x.uid - y.uid);
    for (const [i, m] of messages.entries()) {
      // The cursor covers this message and the UIDs before the next one (vanished, or stored already).
      const one = { ...b, uidNext: messages[i + 1]?.uid ?? b.uidNext };
      const r = await this.storeAtomically({ ...one, messages: [m] }).catch((err: unknown) => {
        if (!isDataError(err)) throw err;
        return this.storeAtomically({ ...one, messages: [withoutContent(m, err)] });
      });
      out.inserted.push(...r.inserted);
      out.moved += r.moved;
      out.skipped += r.skipped;
    }
    return out;
  }

  private async storeAtomically(b: BatchInput): Promise<BatchResult> {
    return this.orm.em.fork().transactional(async (em) => {
      const now = new Date();
      await storeRawSources(em, b.messages, now);
      const claims = await claimDepartures(em, b.accountId, b.messages, this.moveWindowMs);
      const suffix = 'ON CONFLICT ON CONSTRAINT emails_server_identity DO NOTHING RETURNING id, uid';
      const rows = await insertRows<{ id: number; uid: string }>(
        em, 'emails', EMAIL_COLUMNS, b.messages.filter((m) => !claims.has(m.uid)).map((m) => emailRow(b, m, now)), suffix, JSON_COLUMNS,
      );
      const moved = claims.size === 0 ? [] : await insertRows<{ id: number; uid: string }>(
        em, 'emails', ['id', ...EMAIL_COLUMNS],
        b.messages.flatMap((m) => {
          const c = claims.get(m.uid);
          return c ? [[c.emailId, ...emailRow(b, m, now, c.isArchived)]] : [];
        }),
        suffix, JSON_COLUMNS,
      );
      const byUid = new Map(b.messages.map((m) => [m.uid, m]));
      const stored = (r: { id: number; uid: string }): StoredEmail => {
        const m = byUid.get(Number(r.uid))!;
        return {
          id: r.id, accountId: b.accountId, folder: b.folder, messageId: m.messageId, inReplyTo: m.inReplyTo,
          references: m.references, subject: m.subject, receivedAt: receivedAt(m), message: m,
          previousThreadId: claims.get(Number(r.uid))?.threadId ?? null,
        };
      };
      const inserted = [...rows, ...moved].map(stored);
      const claimed = new Map<number, ClaimedDeparture>(moved.map((r) => [r.id, claims.get(Number(r.uid))!]));
      await restoreDepartures(em, [...claimed.values()]);
      // A moved email's attachments take back their ids (the same message lists the same attachments in the same order).
      const attachments = inserted.map((e) => {
        const values = e.message.attachments.map((a) => [e.id, clean(a.filename), clean(a.originalFilename), a.mimeType, Math.min(a.size, MAX_INT4), a.isInline, clean(a.contentId), a.blobKey, now]);
        const ids = claimed.get(e.id)?.attachmentIds;
        return { values, ids: ids && ids.length === values.length ? ids : null };
      });
      await insertRows(em, 'attachments', ATTACHMENT_COLUMNS, attachments.flatMap((a) => (a.ids ? [] : a.values)));
      await insertRows(em, 'attachments', ['id', ...ATTACHMENT_COLUMNS], attachments.flatMap((a) => (a.ids ? a.values.map((v, k) => [a.ids![k], ...v]) : [])));
      const hookEvents: NewEvent[] = [];
      for (const hook of this.hooks) hookEvents.push(...((await hook.afterInsert(em, inserted)) ?? []));
      await appendEvents(em, [
        ...inserted.map((e) => {
          const from = claimed.get(e.id);
          return from ? movedEvent(e, from.folder) : receivedEvent(e);
        }),
        ...hookEvents,
      ]);
      await this.advanceCursor(em, b.accountId, b.folder, b.uidValidity, b.uidNext);
      return { inserted, moved: moved.length, skipped: b.messages.length - inserted.length };
    });
  }

  /**
   * After a UIDVALIDITY reset: a message whose content identity (Message-ID + header hash) matches a row stored under
   * an older UIDVALIDITY gets its new UID and the server's flags; its local state (archived, categories, notes) stays
   * and no event is emitted. Identical copies are matched one to one. One statement and transaction: the caller passes
   * a chunk at a time (an interrupted reset resumes from the stale rows). Returns the UIDs that matched.
   */
  async rematch(accountId: number, folder: string, uidValidity: number, ids: readonly MessageIdentity[], uidNext: number): Promise<Set<number>> {
    const messages = ids.map((m) => ({
      uid: m.uid, modseq: m.modseq, flags: m.flags, seen: m.flags.includes('\\Seen'), flagged: m.flags.includes('\\Flagged'),
      message_id: m.messageId, header_hash: m.headerHash,
    }));
    return this.orm.em.fork().transactional(async (em) => {
      // The stale rows that can match, in id order first (db/rows.ts): the UPDATE alone meets them in its plan's order.
      const matchParams = [cleanJson(messages), accountId, folder, uidValidity, accountId, folder, uidValidity];
      if (messages.length > 0) await lockRowsInIdOrder(em, 'emails', `id IN (${STALE_MATCHES} SELECT id FROM hits)`, matchParams);
      const hits = messages.length === 0 ? [] : await exec<{ uid: string }>(em, REMATCH_SQL, [...matchParams, uidValidity]);
      await this.advanceCursor(em, accountId, folder, uidValidity, uidNext);
      return new Set(hits.map((h) => Number(h.uid)));
    });
  }

  private async advanceCursor(em: EntityManager, accountId: number, folder: string, uidValidity: number, uidNext: number): Promise<void> {
    await exec(
      em,
      `INSERT INTO folder_states (account_id, folder, uid_validity, uid_next, messages, updated_at)
       VALUES (?, ?, ?, ?, 0, now())
       ON CONFLICT (account_id, folder) DO UPDATE SET
         uid_next = CASE WHEN folder_states.uid_validity = EXCLUDED.uid_validity
                         THEN GREATEST(folder_states.uid_next, EXCLUDED.uid_next) ELSE EXCLUDED.uid_next END,
         -- A new UIDVALIDITY: the folder's first pass under it has yet to end (FolderState.syncedSince).
         synced_since = CASE WHEN folder_states.uid_validity = EXCLUDED.uid_validity THEN folder_states.synced_since END,
         uid_validity = EXCLUDED.uid_validity, updated_at = now()`,
      [accountId, folder, uidValidity, uidNext],
    );
  }
}

/**
 * Moves on the server. IMAP has no "moved" notification: a message moved from one folder to another is expunged from
 * the first and appears, with a new UID, in the second. Without more, the email would lose its id and its local state
 * (archived, hand-assigned categories) and be announced as new mail (`email.received`) a second time.
 *
 * So an email the server expunged leaves a departure row (`email_departures`, its content identity and local state),
 * kept for SYNC_MOVE_WINDOW_MS. The same message stored again in a synced folder of the account within that time is
 * the same email moved: it comes back under its old id with its state, announced as `email.moved`. The two orders:
 * - expunge first (the source folder synced first, e.g. INBOX under IDLE): the arrival claims the departure;
 * - arrival first (the destination synced first): the arrival is stored as new mail; when the expunge is seen, the
 *   departing email's state goes to that newer copy (`email.updated`), since it can no longer keep its id.
 * Identity is Message-ID + the hash of the raw header, as for a UIDVALIDITY reset.
 */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { appendEvents, type NewEvent } from '../../events/index.js';
import { lockRowsInIdOrder } from '../../db/rows.js';
import { deleteInBatches, exec } from '../../db/sql.js';

/** An email removed by the sync, as the delete returned it (with what a move must carry over). */
export interface DepartedEmail {
  id: number;
  message_id: string | null;
  header_hash: string;
  is_archived: boolean;
  category_ids: number[];
  created_at: Date;
}

/** A departure claimed by a message being stored: the email id it takes back and the state it restores. */
export interface ClaimedDeparture {
  emailId: number;
  folder: string;
  isArchived: boolean;
  categoryIds: number[];
  /** The attachments' ids, in the order they were stored (the order the message lists them). */
  attachmentIds: number[];
  /** The thread it was in (null: none, or an email that departed before threads were remembered). */
  threadId: number | null;
}

const identityKey = (messageId: string | null, headerHash: string) => `${messageId ?? ''}\0${headerHash}`;

/** How long an expunged email can come back as moved (SYNC_MOVE_WINDOW_MS). */
export const DEFAULT_MOVE_WINDOW_MS = 7 * 86_400_000;

/**
 * Deletes the emails matching `where` (on `emails`), in the caller's transaction, and records their departures unless
 * `remember` is false (moves are not tracked: SYNC_MOVE_WINDOW_MS=0). The categories are read in the same statement:
 * its snapshot still holds the rows the cascade removes, and so do the attachments'.
 *
 * The emails are locked first, in id order, as the email changes service locks them (db/rows.ts): against a user's
 * bulk change of the same emails, the DELETE alone deadlocked.
 */
export async function departEmails(em: EntityManager, where: string, params: readonly unknown[], remember = true): Promise<DepartedEmail[]> {
  await lockRowsInIdOrder(em, 'emails', where, params);
  const kept = `, kept AS (INSERT INTO email_departures (email_id, account_id, folder, message_id, header_hash, is_archived, category_ids, attachment_ids, thread_id, departed_at)
                   SELECT g.id, g.account_id, g.folder, g.message_id, g.header_hash, g.is_archived, cats.ids,
                          coalesce((SELECT jsonb_agg(a.id ORDER BY a.id) FROM attachments a WHERE a.email_id = g.id), '[]'), g.thread_id, now()
                   FROM gone g JOIN cats USING (id) WHERE g.account_id IS NOT NULL
                   ON CONFLICT (email_id) DO NOTHING)`;
  return exec<DepartedEmail>(
    em,
    `WITH gone AS (DELETE FROM emails WHERE ${where}
                   RETURNING id, account_id, folder, message_id, header_hash, is_archived, thread_id, created_at),
          cats AS (SELECT g.id, coalesce(jsonb_agg(c.category_id ORDER BY c.category_id) FILTER (WHERE c.category_id IS NOT NULL), '[]') AS ids
                   FROM gone g LEFT JOIN email_categories c ON c.email_id = g.id AND c.assigned_by = 'manual' GROUP BY g.id)
          ${remember ? kept : ''}
     SELECT g.id, g.message_id, g.header_hash, g.is_archived, cats.ids AS category_ids, g.created_at FROM gone g JOIN cats USING (id)`,
    params,
  );
}

/**
 * Arrival first: a departed email whose message is already stored again in another folder (newer than it) hands its
 * local state to that copy and its departure is consumed. Emits `email.updated` for each copy whose state changed.
 * In its own folder too (moved out and back, or deleted and restored, between two passes: a pass stores new UIDs
 * before it looks for expunges), there only to a copy stored after it: identical copies stored together are not one
 * message.
 */
export async function handOverState(em: EntityManager, accountId: number, folder: string, departed: readonly DepartedEmail[]): Promise<void> {
  const candidates = departed.filter((d) => d.message_id !== null);
  if (candidates.length === 0) return;
  const copies = await exec<{ departed_id: number; id: number; folder: string }>(
    em,
    `SELECT DISTINCT ON (d.id) d.id AS departed_id, e.id, e.folder
     FROM jsonb_to_recordset(?::jsonb) AS d(id int, message_id text, header_hash text, created_at timestamptz)
     JOIN emails e ON e.account_id = ? AND e.message_id = d.message_id AND e.header_hash = d.header_hash
                  AND ((e.folder <> ? AND e.created_at >= d.created_at) OR e.created_at > d.created_at)
     ORDER BY d.id, e.id DESC`,
    [JSON.stringify(candidates.map((d) => ({ id: d.id, message_id: d.message_id, header_hash: d.header_hash, created_at: d.created_at }))), accountId, folder],
  );
  if (copies.length === 0) return;
  await exec(em, 'DELETE FROM email_departures WHERE email_id = ANY(?::int[])', [copies.map((c) => c.departed_id)]);
  // The copies are locked (and then changed) in id order, as every writer of several emails does (db/rows.ts); they
  // were found in departure order. Two departures can hand over to one copy.
  await lockRowsInIdOrder(em, 'emails', 'id = ANY(?::int[])', [[...new Set(copies.map((c) => c.id))]]);
  const byId = new Map(departed.map((d) => [d.id, d]));
  const events: NewEvent<'email.updated'>[] = [];
  for (const copy of [...copies].sort((a, b) => a.id - b.id)) {
    const from = byId.get(copy.departed_id)!;
    const changes: Record<string, unknown> = {};
    // Read again under the lock: a user's change may have committed since the copy was found.
    const archived = from.is_archived
      ? await exec(em, 'UPDATE emails SET is_archived = true, updated_at = now() WHERE id = ? AND NOT is_archived RETURNING id', [copy.id])
      : [];
    if (archived.length > 0) changes.isArchived = true;
    if (await restoreCategories(em, copy.id, from.category_ids)) {
      changes.categories = await manualCategories(em, copy.id);
    }
    if (Object.keys(changes).length === 0) continue;
    events.push({
      type: 'email.updated',
      accountId,
      identity: `${copy.id}\0handover\0${from.id}`,
      payload: { emailId: copy.id, accountId, folder: copy.folder, changes },
    });
  }
  await appendEvents(em, events);
}

/**
 * Expunge first: the departures (within `windowMs`) of the messages about to be stored, matched one to one by content
 * identity and locked; keyed by UID. The caller stores each matched message under the departure's id and then
 * `restoreDepartures` consumes them.
 */
export async function claimDepartures(
  em: EntityManager,
  accountId: number,
  messages: readonly { uid: number; messageId: string | null; headerHash: string }[],
  windowMs: number,
): Promise<Map<number, ClaimedDeparture>> {
  const out = new Map<number, ClaimedDeparture>();
  if (messages.length === 0 || windowMs <= 0) return out;
  const rows = await exec<{
    email_id: number; folder: string; message_id: string | null; header_hash: string; is_archived: boolean; category_ids: number[]; attachment_ids: number[];
    thread_id: number | null;
  }>(
    em,
    `SELECT email_id, folder, message_id, header_hash, is_archived, category_ids, attachment_ids, thread_id FROM email_departures
     WHERE account_id = ? AND header_hash = ANY(?::text[]) AND departed_at > ?
     ORDER BY departed_at DESC, email_id FOR UPDATE SKIP LOCKED`,
    [accountId, [...new Set(messages.map((m) => m.headerHash))], new Date(Date.now() - windowMs)],
  );
  const free = new Map<string, typeof rows>();
  for (const r of rows) {
    const key = identityKey(r.message_id, r.header_hash);
    free.set(key, [...(free.get(key) ?? []), r]);
  }
  for (const m of messages) {
    const r = free.get(identityKey(m.messageId, m.headerHash))?.shift();
    if (r) out.set(m.uid, { emailId: r.email_id, folder: r.folder, isArchived: r.is_archived, categoryIds: r.category_ids, attachmentIds: r.attachment_ids, threadId: r.thread_id });
  }
  return out;
}

/** Consumes the departures of emails stored again under their ids, and gives them back their categories. */
export async function restoreDepartures(em: EntityManager, restored: readonly ClaimedDeparture[]): Promise<void> {
  if (restored.length === 0) return;
  await exec(em, 'DELETE FROM email_departures WHERE email_id = ANY(?::int[])', [restored.map((d) => d.emailId)]);
  for (const d of restored) await restoreCategories(em, d.emailId, d.categoryIds);
}

/** Hand-assigned categories that still exist; returns whether any was added. */
async function restoreCategories(em: EntityManager, emailId: number, categoryIds: readonly number[]): Promise<boolean> {
  if (categoryIds.length === 0) return false;
  const rows = await exec(
    em,
    `INSERT INTO email_categories (email_id, category_id, assigned_by, created_at)
     SELECT ?, c.id, 'manual', now() FROM categories c WHERE c.id = ANY(?::int[])
     ON CONFLICT (email_id, category_id) DO NOTHING RETURNING category_id`,
    [emailId, [...categoryIds]],
  );
  return rows.length > 0;
}

async function manualCategories(em: EntityManager, emailId: number): Promise<number[]> {
  const rows = await exec<{ category_id: number }>(
    em,
    `SELECT category_id FROM email_categories WHERE email_id = ? AND assigned_by = 'manual' ORDER BY category_id`,
    [emailId],
  );
  return rows.map((r) => r.category_id);
}

/** Removes departures older than the move window; returns how many. */
export function sweepDepartures(orm: MikroORM, windowMs: number): Promise<number> {
  return deleteInBatches(orm, 'email_departures', 'email_id', 'departed_at < ?', [new Date(Date.now() - windowMs)]);
}

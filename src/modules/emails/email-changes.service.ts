/**
 * Local changes to emails (read, starred, archived, deleted) made through the API. Each call is one transaction that
 * updates the rows, queues the matching write-back to the IMAP server (`write_backs`) and appends the outbox events;
 * a NOTIFY on `WRITE_BACK_CHANNEL`, delivered by PostgreSQL at commit, wakes whichever instance owns the account's
 * IMAP session to drain the queue. The queue is durable, so a crash between commit and the IMAP command loses nothing.
 *
 * Archiving stays local: the contract has no archive folder, and moving the message on the server would change its
 * server identity (folder, UID) under the client's feet.
 */
import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { appendEvents, type NewEvent } from '../../events/index.js';
import { retryOnConflict } from '../../db/conflicts.js';
import { lockRowsInIdOrder } from '../../db/rows.js';
import { exec, insertRows } from '../../db/sql.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from '../auth/index.js';
import { setManualCategories } from '../categories/index.js';
import type { WriteBackAction } from './write-back.entity.js';

/** NOTIFY channel whose payload is an account id with new write-backs (delivered at commit). */
export const WRITE_BACK_CHANNEL = 'incoming_write_back';

export interface EmailChange {
  isRead?: boolean;
  isStarred?: boolean;
  isArchived?: boolean;
  /** The manually assigned categories, replaced as a whole (local only: IMAP has no categories). */
  categoryIds?: readonly number[];
}

export const BULK_ACTIONS = ['mark_read', 'mark_unread', 'star', 'unstar', 'archive', 'unarchive', 'delete'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];
/** Most ids one bulk call may name. */
export const MAX_BULK_IDS = 1000;

export interface BulkResult {
  id: number;
  success: boolean;
  error: string | null;
}

const BULK_CHANGES: Record<Exclude<BulkAction, 'delete'>, EmailChange> = {
  mark_read: { isRead: true },
  mark_unread: { isRead: false },
  star: { isStarred: true },
  unstar: { isStarred: false },
  archive: { isArchived: true },
  unarchive: { isArchived: false },
};

export type UpdateOutcome = 'updated' | 'unchanged' | 'not_found';
export type DeleteOutcome = 'deleted' | 'not_found';

interface Row {
  id: number;
  account_id: number | null;
  folder: string;
  uid_validity: string;
  uid: string;
  modseq: string | null;
  message_id: string | null;
  header_hash: string;
  is_read: boolean;
  is_starred: boolean;
  is_archived: boolean;
  flags: string[];
}

interface QueuedAction {
  row: Row;
  action: WriteBackAction;
}

/** The IMAP flag behind each boolean, and the write-back actions that set / clear it. */
const FLAG_FIELDS = [
  { field: 'isRead', column: 'is_read', flag: '\\Seen', set: 'seen', clear: 'unseen' },
  { field: 'isStarred', column: 'is_starred', flag: '\\Flagged', set: 'flag', clear: 'unflag' },
] as const;

function withFlag(flags: readonly string[], flag: string, on: boolean): string[] {
  const rest = flags.filter((f) => f !== flag);
  return on ? [...rest, flag] : rest;
}

export class EmailChangesService {
  constructor(private readonly orm: MikroORM) {}

  /** One action on many emails; an unknown (or invisible) id is a per-id failure, not an error. */
  async bulk(principal: Principal, ids: readonly number[], action: BulkAction): Promise<BulkResult[]> {
    if (ids.length === 0) throw AppError.badInput('ids: must not be empty');
    if (ids.length > MAX_BULK_IDS) throw AppError.badInput(`ids: at most ${MAX_BULK_IDS} ids per call`);
    const unique = [...new Set(ids)];
    const outcomes: Map<number, string> = action === 'delete' ? await this.delete(principal, unique) : await this.update(principal, unique, BULK_CHANGES[action]);
    return unique.map((id) => {
      const found = outcomes.get(id) !== 'not_found';
      return { id, success: found, error: found ? null : 'Email not found' };
    });
  }

  /** Deletes one email; NOT_FOUND when it does not exist or is outside the principal's scope. */
  async deleteOne(principal: Principal, id: number): Promise<void> {
    if ((await this.delete(principal, [id])).get(id) !== 'deleted') throw AppError.notFound('Email', id);
  }

  /** Applies `change` to each email; ids outside the principal's scope are `not_found` (no existence leak). */
  async update(principal: Principal, ids: readonly number[], change: EmailChange): Promise<Map<number, UpdateOutcome>> {
    const actionId = randomUUID();
    return retryOnConflict(() => this.orm.em.fork().transactional(async (em) => {
      const out = new Map<number, UpdateOutcome>(ids.map((id) => [id, 'not_found']));
      const rows = await this.lockVisible(em, principal.accountIds, ids);
      const categorized = change.categoryIds === undefined ? new Set<number>() : await setManualCategories(em, rows.map((r) => r.id), change.categoryIds);
      const queued: QueuedAction[] = [];
      const changed: { row: Row; flags: string[]; changes: Record<string, unknown> }[] = [];
      for (const row of rows) {
        let flags = row.flags;
        const changes: Record<string, unknown> = {};
        for (const f of FLAG_FIELDS) {
          const want = change[f.field];
          if (want === undefined || want === row[f.column]) continue;
          changes[f.field] = want;
          flags = withFlag(flags, f.flag, want);
          if (row.account_id !== null) queued.push({ row, action: want ? f.set : f.clear });
        }
        if (change.isArchived !== undefined && change.isArchived !== row.is_archived) changes.isArchived = change.isArchived;
        if (categorized.has(row.id)) changes.categories = [...new Set(change.categoryIds)];
        out.set(row.id, Object.keys(changes).length > 0 ? 'updated' : 'unchanged');
        if (Object.keys(changes).length > 0) changed.push({ row, flags, changes });
      }
      if (changed.length === 0) return out;
      await exec(
        em,
        `UPDATE emails e SET flags = v.flags, is_read = COALESCE(?, e.is_read), is_starred = COALESCE(?, e.is_starred),
           is_archived = COALESCE(?, e.is_archived),
           read_at = CASE WHEN ? IS NULL THEN e.read_at WHEN ? THEN COALESCE(e.read_at, now()) ELSE NULL END, updated_at = now()
         FROM jsonb_to_recordset(?::jsonb) AS v(id int, flags jsonb) WHERE e.id = v.id`,
        [
          change.isRead ?? null, change.isStarred ?? null, change.isArchived ?? null, change.isRead ?? null, change.isRead ?? null,
          JSON.stringify(changed.map((c) => ({ id: c.row.id, flags: c.flags }))),
        ],
      );
      await this.enqueue(em, queued);
      await appendEvents(
        em,
        changed.map(({ row, changes }): NewEvent<'email.updated'> => ({
          type: 'email.updated',
          accountId: row.account_id,
          identity: `${row.id}\0local\0${actionId}`,
          payload: { emailId: row.id, accountId: row.account_id ?? 0, folder: row.folder, changes },
        })),
      );
      return out;
    }));
  }

  /** Deletes the emails and their attachment rows (blob files are left to the orphan sweep) and queues the server delete. */
  delete(principal: Principal, ids: readonly number[]): Promise<Map<number, DeleteOutcome>> {
    return this.deleteWithin(principal.accountIds, ids);
  }

  /**
   * The write-back's own delete of emails of one account: the copy the sync stored of a message that another client
   * moved while the user's delete of it was queued (write-back.ts). As a user's delete: local at once, queued for the
   * server.
   */
  deleteInAccount(accountId: number, ids: readonly number[]): Promise<Map<number, DeleteOutcome>> {
    return this.deleteWithin([accountId], ids);
  }

  private async deleteWithin(accountIds: readonly number[] | null, ids: readonly number[]): Promise<Map<number, DeleteOutcome>> {
    return retryOnConflict(() => this.orm.em.fork().transactional(async (em) => {
      const out = new Map<number, DeleteOutcome>(ids.map((id) => [id, 'not_found']));
      const rows = await this.lockVisible(em, accountIds, ids);
      if (rows.length === 0) return out;
      const rowIds = rows.map((r) => r.id);
      await exec(em, 'DELETE FROM attachments WHERE email_id = ANY(?::int[])', [rowIds]);
      await exec(em, 'DELETE FROM emails WHERE id = ANY(?::int[])', [rowIds]);
      await this.enqueue(em, rows.filter((r) => r.account_id !== null).map((row) => ({ row, action: 'delete' as const })));
      await appendEvents(
        em,
        rows.map((r): NewEvent<'email.deleted'> => ({
          type: 'email.deleted',
          accountId: r.account_id,
          // The same identity as a delete seen by the sync engine: one event per deleted email, whoever saw it first.
          identity: String(r.id),
          payload: { emailId: r.id, accountId: r.account_id ?? 0, folder: r.folder, messageId: r.message_id },
        })),
      );
      for (const id of rowIds) out.set(id, 'deleted');
      return out;
    }));
  }

  /**
   * An account is being deleted (in `em`'s transaction): with `deleteEmails` its mail goes too — emails, attachment
   * rows, category links and threads; blob files and raw sources are left to the orphan sweep, and there is nothing to
   * write back. Without it the mail stays, detached (`account_id` set to null by the foreign key). No event per email:
   * removing an account's whole mailbox is one administrative act, not as many mail changes.
   */
  async onAccountDelete(em: EntityManager, accountId: number, opts: { deleteEmails: boolean }): Promise<void> {
    // In id order first, as every writer of several emails locks them (db/rows.ts): the DELETE (or the foreign key's
    // SET NULL) alone meets them in its plan's order, and a bulk change of some of them could hold one it wants while
    // waiting for another.
    await lockRowsInIdOrder(em, 'emails', 'account_id = ?', [accountId]);
    if (!opts.deleteEmails) return;
    await exec(em, 'DELETE FROM emails WHERE account_id = ?', [accountId]);
    await exec(em, 'DELETE FROM threads WHERE account_id = ?', [accountId]);
  }

  /**
   * The account now logs in elsewhere (host, port or username changed): its stored UIDs may name other messages there,
   * even under the same UIDVALIDITY (Dovecot's is the mailbox's creation time, shared by mailboxes created in the same
   * second). Their UIDVALIDITY is negated, which no server's is (RFC 3501: a positive number) and which keeps the server
   * identity unique: every folder's next pass is then a reset, matching the emails again by content (their local state
   * stays with those found) and dropping the others. Queued write-backs are marked alike, so they follow their email
   * as after any reset instead of being applied to whatever message has that UID now. The folder cursors are forgotten
   * too: a folder with nothing stored would otherwise resume from the old UIDNEXT and skip the messages below it.
   */
  async onAccountMailboxChange(em: EntityManager, accountId: number): Promise<void> {
    const ids = await lockRowsInIdOrder(em, 'emails', 'account_id = ? AND uid_validity > 0', [accountId]);
    if (ids.length > 0) await exec(em, 'UPDATE emails SET uid_validity = -uid_validity WHERE id = ANY(?::int[])', [ids]);
    await exec(em, 'UPDATE write_backs SET uid_validity = -uid_validity WHERE account_id = ? AND uid_validity > 0', [accountId]);
    await exec(em, 'UPDATE folder_states SET uid_validity = NULL, uid_next = 1, highest_modseq = NULL, updated_at = now() WHERE account_id = ?', [accountId]);
  }

  /** Locks the emails of `accountIds` (a key's scope); detached emails (account deleted, mail kept) only when null. */
  private async lockVisible(em: EntityManager, accountIds: readonly number[] | null, ids: readonly number[]): Promise<Row[]> {
    if (ids.length === 0) return [];
    const scoped = accountIds !== null;
    return exec<Row>(
      em,
      `SELECT id, account_id, folder, uid_validity, uid, modseq, message_id, header_hash, is_read, is_starred, is_archived, flags
       FROM emails WHERE id = ANY(?::int[]) ${scoped ? 'AND account_id = ANY(?::int[])' : ''} ORDER BY id FOR UPDATE`,
      scoped ? [[...new Set(ids)], [...accountIds]] : [[...new Set(ids)]],
    );
  }

  /**
   * Queues write-backs. A newer change supersedes pending older ones for the same message and flag (the opposite
   * change, or a duplicate); a delete supersedes every pending flag change of the message. A delete keeps the message's
   * content identity: its email row, which a flag change follows, is gone (see MailboxStateService.followDeletes, after a
   * UIDVALIDITY reset, and chaseDeletes in sync/write-back.ts, after a move by another client).
   * One NOTIFY per account.
   */
  private async enqueue(em: EntityManager, queued: readonly QueuedAction[]): Promise<void> {
    if (queued.length === 0) return;
    const supersedes = (a: WriteBackAction): WriteBackAction[] =>
      a === 'delete' ? ['seen', 'unseen', 'flag', 'unflag'] : a === 'seen' || a === 'unseen' ? ['seen', 'unseen'] : ['flag', 'unflag'];
    for (const action of new Set(queued.map((q) => q.action))) {
      const emailIds = queued.filter((q) => q.action === action).map((q) => q.row.id);
      await exec(em, `DELETE FROM write_backs WHERE status = 'pending' AND email_id = ANY(?::int[]) AND action = ANY(?::text[])`, [emailIds, supersedes(action)]);
    }
    const now = new Date();
    await insertRows(
      em,
      'write_backs',
      ['account_id', 'email_id', 'folder', 'uid_validity', 'uid', 'action', 'modseq', 'message_id', 'header_hash', 'status', 'attempts', 'next_attempt_at', 'created_at'],
      queued.map(({ row, action }) => {
        const identity = action === 'delete' ? [row.message_id, row.header_hash] : [null, null];
        return [row.account_id, row.id, row.folder, row.uid_validity, row.uid, action, row.modseq, ...identity, 'pending', 0, now, now];
      }),
    );
    for (const accountId of new Set(queued.map((q) => q.row.account_id))) {
      await exec(em, 'SELECT pg_notify(?, ?)', [WRITE_BACK_CHANNEL, String(accountId)]);
    }
  }
}

/**
 * What the sync engine needs besides storing new mail: the folder cursors, the local view of a folder (UIDs, flags),
 * and applying the server's changes — flag updates, expunges, and the end of a UIDVALIDITY reset — each with its
 * events in the same transaction.
 */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { appendEvents, type NewEvent } from '../../events/index.js';
import { lockRowsInIdOrder } from '../../db/rows.js';
import { exec } from '../../db/sql.js';
import { DEFAULT_MOVE_WINDOW_MS, departEmails, handOverState, type DepartedEmail } from './departures.js';
import { WRITE_BACK_CHANNEL } from './email-changes.service.js';
import type { MessageIdentity } from './ingest.service.js';

export interface FolderCursor {
  folder: string;
  uidValidity: number | null;
  uidNext: number;
  highestModseq: string | null;
  messages: number;
  lastSyncAt: Date | null;
  lastError: string | null;
}

export interface FlagChange {
  uid: number;
  flags: string[];
  modseq: string | null;
}

function deletedEvents(accountId: number, folder: string, rows: readonly DepartedEmail[]): NewEvent<'email.deleted'>[] {
  return rows.map((r) => ({
    type: 'email.deleted',
    accountId,
    identity: String(r.id),
    payload: { emailId: r.id, accountId, folder, messageId: r.message_id },
  }));
}

/**
 * A message's flags as stored: without \Recent, which is session state (RFC 3501: only the first session to see a new
 * message gets it, and only for that session). Stored, it would read as a flag change once a later session sees the
 * message without it: a spurious `email.updated` for the echo of our own write-back, or for every message on a full
 * flag comparison after a reconnect.
 */
export function storedFlags(flags: Iterable<string> | undefined): string[] {
  return [...(flags ?? [])].filter((f) => f !== '\\Recent');
}

// storedFlags() on both sides: rows stored before \Recent was left out still have it.
const sameFlags = (a: readonly string[], b: readonly string[]) => storedFlags(a).sort().join(' ') === storedFlags(b).sort().join(' ');

export class MailboxStateService {
  constructor(
    private readonly orm: MikroORM,
    /** SYNC_MOVE_WINDOW_MS: 0 deletes expunged emails without remembering them (departures.ts). */
    private readonly moveWindowMs = DEFAULT_MOVE_WINDOW_MS,
  ) {}

  private em(): EntityManager {
    return this.orm.em.fork();
  }

  /** Cursors of an account's folders. */
  async cursors(accountId: number): Promise<FolderCursor[]> {
    const rows = await exec<Record<string, unknown>>(
      this.em(),
      'SELECT folder, uid_validity, uid_next, highest_modseq, messages, last_sync_at, last_error FROM folder_states WHERE account_id = ? ORDER BY folder',
      [accountId],
    );
    return rows.map((r) => ({
      folder: String(r.folder),
      uidValidity: r.uid_validity === null ? null : Number(r.uid_validity),
      uidNext: Number(r.uid_next),
      highestModseq: r.highest_modseq === null ? null : String(r.highest_modseq),
      messages: Number(r.messages),
      lastSyncAt: r.last_sync_at ? new Date(r.last_sync_at as string) : null,
      lastError: (r.last_error as string | null) ?? null,
    }));
  }

  async cursor(accountId: number, folder: string): Promise<FolderCursor | null> {
    return (await this.cursors(accountId)).find((c) => c.folder === folder) ?? null;
  }

  /**
   * Records the end of a successful folder pass (modseq, message count) or its error. The first successful pass under
   * a UIDVALIDITY sets `synced_since` (see FolderState; a reset clears it in IngestService.advanceCursor).
   */
  async finishFolder(accountId: number, folder: string, s: { uidValidity: number; highestModseq: string | null; messages: number } | { error: string }): Promise<void> {
    if ('error' in s) {
      await exec(this.em(), `UPDATE folder_states SET last_error = ?, updated_at = now() WHERE account_id = ? AND folder = ?`, [s.error, accountId, folder]);
      return;
    }
    await exec(
      this.em(),
      `INSERT INTO folder_states (account_id, folder, uid_validity, uid_next, highest_modseq, messages, last_sync_at, synced_since, last_error, updated_at)
       VALUES (?, ?, ?, 1, ?, ?, now(), now(), NULL, now())
       ON CONFLICT (account_id, folder) DO UPDATE SET highest_modseq = EXCLUDED.highest_modseq, messages = EXCLUDED.messages,
         last_sync_at = now(), last_error = NULL, updated_at = now(), uid_validity = EXCLUDED.uid_validity,
         synced_since = CASE WHEN folder_states.uid_validity IS NOT DISTINCT FROM EXCLUDED.uid_validity
                             THEN coalesce(folder_states.synced_since, now()) ELSE now() END`,
      [accountId, folder, s.uidValidity, s.highestModseq, s.messages],
    );
  }

  /** How many messages of a folder under one UIDVALIDITY are stored (reads the folder's index entries). */
  async localCount(accountId: number, folder: string, uidValidity: number): Promise<number> {
    const [r] = await exec<{ n: string }>(this.em(), 'SELECT count(*) AS n FROM emails WHERE account_id = ? AND folder = ? AND uid_validity = ?', [
      accountId, folder, uidValidity,
    ]);
    return Number(r?.n ?? 0);
  }

  /** The stored UIDs of a folder under one UIDVALIDITY; with `among`, only those of them (a pass's few candidates). */
  async localUids(accountId: number, folder: string, uidValidity: number, among?: readonly number[]): Promise<Set<number>> {
    if (among?.length === 0) return new Set();
    const rows = await exec<{ uid: string }>(
      this.em(),
      `SELECT uid FROM emails WHERE account_id = ? AND folder = ? AND uid_validity = ?${among ? ' AND uid = ANY(?::bigint[])' : ''}`,
      among ? [accountId, folder, uidValidity, [...among]] : [accountId, folder, uidValidity],
    );
    return new Set(rows.map((r) => Number(r.uid)));
  }

  /** Local UIDs with flags for a folder under one UIDVALIDITY (for a full comparison with the server's flags). */
  async localFlags(accountId: number, folder: string, uidValidity: number): Promise<Map<number, string[]>> {
    const rows = await exec<{ uid: string; flags: string[] }>(
      this.em(),
      'SELECT uid, flags FROM emails WHERE account_id = ? AND folder = ? AND uid_validity = ?',
      [accountId, folder, uidValidity],
    );
    return new Map(rows.map((r) => [Number(r.uid), r.flags]));
  }

  /** UIDs of messages deleted locally whose delete is still queued for the server: a pass must not fetch them again. */
  async pendingDeletes(accountId: number, folder: string, uidValidity: number): Promise<Set<number>> {
    const rows = await exec<{ uid: string }>(
      this.em(),
      `SELECT uid FROM write_backs WHERE account_id = ? AND folder = ? AND uid_validity = ? AND action = 'delete' AND status = 'pending'`,
      [accountId, folder, uidValidity],
    );
    return new Set(rows.map((r) => Number(r.uid)));
  }

  /** Deletes the server refused for good (the message stays there), by UID: they are settled by `settleFailedDeletes`. */
  async failedDeletes(accountId: number, folder: string, uidValidity: number): Promise<number[]> {
    const rows = await exec<{ uid: string }>(
      this.em(),
      `SELECT uid FROM write_backs WHERE account_id = ? AND folder = ? AND uid_validity = ? AND action = 'delete' AND status = 'failed'`,
      [accountId, folder, uidValidity],
    );
    return rows.map((r) => Number(r.uid));
  }

  /**
   * Failed deletes whose message the pass has brought back (or that the server no longer has): a restored email
   * shows why it is back (`sync_error`), and the queue rows go. A user can then delete it again.
   */
  async settleFailedDeletes(accountId: number, folder: string, uidValidity: number, uids: readonly number[]): Promise<void> {
    if (uids.length === 0) return;
    await this.orm.em.fork().transactional(async (em) => {
      const match = `w.account_id = ? AND w.folder = ? AND w.uid_validity = ? AND w.uid = ANY(?::bigint[]) AND w.action = 'delete' AND w.status = 'failed'`;
      const params = [accountId, folder, uidValidity, [...uids]];
      // The emails in id order first (db/rows.ts): the UPDATE … FROM alone meets them in the queue's order.
      await lockRowsInIdOrder(em, 'emails', 'account_id = ? AND folder = ? AND uid_validity = ? AND uid = ANY(?::bigint[])', params);
      await exec(
        em,
        `UPDATE emails e SET sync_error = 'The delete failed on the IMAP server, so the message is still there: ' || coalesce(w.last_error, 'unknown error'),
           updated_at = now()
         FROM write_backs w WHERE ${match} AND e.account_id = w.account_id AND e.folder = w.folder AND e.uid_validity = w.uid_validity AND e.uid = w.uid`,
        params,
      );
      await exec(em, `DELETE FROM write_backs w WHERE ${match}`, params);
    });
  }

  /**
   * A UIDVALIDITY reset under queued deletes: the messages (by content identity, the n-th copy with the n-th delete)
   * that deletes queued under an older UIDVALIDITY of the folder were meant for. Those deletes are re-targeted to the
   * new UIDs and made due (the drain is woken); the returned UIDs are not to be fetched (see pendingDeletes). A flag
   * change follows its email row instead (write-back.ts); a delete has none left.
   */
  async followDeletes(accountId: number, folder: string, uidValidity: number, ids: readonly Pick<MessageIdentity, 'uid' | 'messageId' | 'headerHash'>[]): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    const em = this.em();
    const rows = await exec<{ uid: string }>(
      em,
      `WITH m AS (
         SELECT m.uid, m.message_id, m.header_hash, row_number() OVER (PARTITION BY m.message_id, m.header_hash ORDER BY m.uid) AS rn
         FROM jsonb_to_recordset(?::jsonb) AS m(uid bigint, message_id text, header_hash text)
       ), w AS (
         SELECT id, message_id, header_hash, row_number() OVER (PARTITION BY message_id, header_hash ORDER BY id) AS rn
         FROM write_backs WHERE account_id = ? AND folder = ? AND uid_validity <> ? AND action = 'delete' AND status = 'pending'
           AND header_hash IS NOT NULL
       )
       UPDATE write_backs x SET uid_validity = ?, uid = m.uid, modseq = NULL, next_attempt_at = now()
       FROM w JOIN m ON m.header_hash = w.header_hash AND m.message_id IS NOT DISTINCT FROM w.message_id AND m.rn = w.rn
       WHERE x.id = w.id
       RETURNING m.uid`,
      [JSON.stringify(ids.map((i) => ({ uid: i.uid, message_id: i.messageId, header_hash: i.headerHash }))), accountId, folder, uidValidity, uidValidity],
    );
    if (rows.length > 0) await exec(em, 'SELECT pg_notify(?, ?)', [WRITE_BACK_CHANNEL, String(accountId)]);
    return new Set(rows.map((r) => Number(r.uid)));
  }

  /**
   * Queued deletes whose message was no longer in its folder (moved on the server meanwhile): for each, an email of
   * the account with the same content identity that the sync stored since the delete was queued, outside `notIn` (the
   * Trash: a copy there is the delete's own doing), in a folder whose first pass had ended by then (`synced_since`):
   * stored later, it arrived on the server later. A first pass stores what the folder already held, such as a copy
   * the user keeps there, and that is never the moved message. One copy per delete: two deletes of identical messages
   * (the same message received twice) follow two copies. Returns write-back id → email id.
   */
  async arrivedCopies(accountId: number, writeBackIds: readonly string[], notIn: string | null): Promise<Map<string, number>> {
    if (writeBackIds.length === 0) return new Map();
    const rows = await exec<{ job: string; email: number }>(
      this.em(),
      `SELECT w.id AS job, e.id AS email
       FROM write_backs w JOIN emails e ON e.account_id = w.account_id AND e.header_hash = w.header_hash
         AND e.message_id IS NOT DISTINCT FROM w.message_id AND e.created_at >= w.created_at AND e.folder IS DISTINCT FROM ?
       JOIN folder_states fs ON fs.account_id = e.account_id AND fs.folder = e.folder AND fs.synced_since <= w.created_at
       WHERE w.account_id = ? AND w.id = ANY(?::bigint[])
       ORDER BY w.id, e.id`,
      [notIn, accountId, [...writeBackIds]],
    );
    // Each delete, in queue order, takes the first copy no earlier one took.
    const out = new Map<string, number>();
    const taken = new Set<number>();
    for (const r of rows) {
      const job = String(r.job);
      const email = Number(r.email);
      if (out.has(job) || taken.has(email)) continue;
      out.set(job, email);
      taken.add(email);
    }
    return out;
  }

  /** Whether rows from an older UIDVALIDITY remain (a reset is in progress, or was interrupted). */
  async hasStaleValidity(accountId: number, folder: string, uidValidity: number): Promise<boolean> {
    // Two range probes of the (account, folder, uid_validity, uid) index: `<>` would walk every current row.
    const rows = await exec(
      this.em(),
      `(SELECT 1 FROM emails WHERE account_id = ? AND folder = ? AND uid_validity < ? LIMIT 1)
       UNION ALL (SELECT 1 FROM emails WHERE account_id = ? AND folder = ? AND uid_validity > ? LIMIT 1)`,
      [accountId, folder, uidValidity, accountId, folder, uidValidity],
    );
    return rows.length > 0;
  }

  /** Applies the server's flags where they differ; emits `email.updated`. Returns how many emails changed. */
  async applyFlags(accountId: number, folder: string, uidValidity: number, changes: readonly FlagChange[]): Promise<number> {
    if (changes.length === 0) return 0;
    return this.orm.em.fork().transactional(async (em) => {
      // Lock first (in id order, as the email changes service does), then read in a statement of its own. One
      // SELECT … FOR UPDATE that waited for a local change's row lock re-checks only that row after the wait, not
      // the write_backs below (it keeps the snapshot from before the wait): it would overwrite the user's change with
      // the server's older flags.
      const ids = await lockRowsInIdOrder(em, 'emails', 'account_id = ? AND folder = ? AND uid_validity = ? AND uid = ANY(?::bigint[])', [
        accountId, folder, uidValidity, changes.map((c) => c.uid),
      ]);
      if (ids.length === 0) return 0;
      const current = await exec<{ id: number; uid: string; flags: string[] }>(
        em,
        // A message with a local flag change still queued for the server keeps its local flags: the write-back
        // settles it (and brings the server's flags back if the server changed the message meanwhile).
        `SELECT id, uid, flags FROM emails e WHERE id = ANY(?::int[])
           AND NOT EXISTS (SELECT 1 FROM write_backs w WHERE w.email_id = e.id AND w.status = 'pending' AND w.action <> 'delete')`,
        [ids],
      );
      const byUid = new Map(changes.map((c) => [c.uid, c]));
      const events: NewEvent<'email.updated'>[] = [];
      // Flags changed and changed back on the server: nothing to show, but the MODSEQ moved. A write-back sent with
      // the old one (UNCHANGEDSINCE) would be refused as a conflict, and the user's next change lost for nothing.
      const moved: { id: number; modseq: string }[] = [];
      for (const row of current) {
        const c = byUid.get(Number(row.uid))!;
        if (sameFlags(row.flags, c.flags)) {
          if (c.modseq !== null) moved.push({ id: row.id, modseq: c.modseq });
          continue;
        }
        const isRead = c.flags.includes('\\Seen');
        const isStarred = c.flags.includes('\\Flagged');
        await exec(
          em,
          `UPDATE emails SET flags = ?::jsonb, is_read = ?, is_starred = ?, modseq = COALESCE(?, modseq),
             read_at = CASE WHEN ? AND read_at IS NULL THEN now() WHEN NOT ? THEN NULL ELSE read_at END, updated_at = now()
           WHERE id = ?`,
          [JSON.stringify(c.flags), isRead, isStarred, c.modseq, isRead, isRead, row.id],
        );
        events.push({
          type: 'email.updated',
          accountId,
          identity: `${row.id}\0flags\0${c.modseq ?? [...c.flags].sort().join(' ')}`,
          payload: { emailId: row.id, accountId, folder, changes: { isRead, isStarred, flags: c.flags } },
        });
      }
      if (moved.length > 0) {
        await exec(
          em,
          `UPDATE emails e SET modseq = m.modseq FROM jsonb_to_recordset(?::jsonb) AS m(id int, modseq bigint)
           WHERE e.id = m.id AND e.modseq IS DISTINCT FROM m.modseq`,
          [JSON.stringify(moved)],
        );
      }
      await appendEvents(em, events);
      return events.length;
    });
  }

  /** Removes local messages the server no longer has (expunged); emits `email.deleted`. */
  async removeUids(accountId: number, folder: string, uidValidity: number, uids: readonly number[]): Promise<number> {
    if (uids.length === 0) return 0;
    return this.remove(accountId, folder, 'account_id = ? AND folder = ? AND uid_validity = ? AND uid = ANY(?::bigint[])', [accountId, folder, uidValidity, [...uids]]);
  }

  /** Ends a UIDVALIDITY reset: rows still under an older UIDVALIDITY did not survive it. */
  async removeStaleValidity(accountId: number, folder: string, uidValidity: number): Promise<number> {
    return this.remove(accountId, folder, 'account_id = ? AND folder = ? AND uid_validity <> ?', [accountId, folder, uidValidity]);
  }

  /** Deletes the matching emails, remembering them in case the server moved them (departures.ts); emits `email.deleted`. */
  private async remove(accountId: number, folder: string, where: string, params: readonly unknown[]): Promise<number> {
    return this.orm.em.fork().transactional(async (em) => {
      const tracked = this.moveWindowMs > 0;
      const rows = await departEmails(em, where, params, tracked);
      if (tracked) await handOverState(em, accountId, folder, rows);
      await appendEvents(em, deletedEvents(accountId, folder, rows));
      return rows.length;
    });
  }
}

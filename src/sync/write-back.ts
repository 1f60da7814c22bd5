/**
 * Drains the write-back queue (`write_backs`) of one account on its IMAP session: local flag changes and deletes go
 * to the server, folder by folder. Runs under the account's sync lock, so a flag sync never reads the server between
 * our STORE and the queue row's removal (it would see a "server change" and revert the local state).
 *
 * Rules:
 * - A flag change follows its message (its email row) when the row no longer names it: UIDVALIDITY differs from the
 *   row's (the UID names another message now), or the message is gone from the folder (moved on the server by
 *   another client, or expunged). Once the sync has found the message again (a rematch by content identity, or a
 *   move: the email takes a new folder and UID), the row is re-targeted there, without its old MODSEQ; until then it
 *   waits (retried with backoff, so a message that never comes back fails after MAX_WRITE_BACK_ATTEMPTS). An email
 *   gone for good (deleted locally, or expunged and not back within the attempts) leaves nothing to change. A delete
 *   has no email row left: it carries the message's content identity instead, and after a UIDVALIDITY reset waits
 *   the same way for the sync's rematch to re-target it to the message's new UID (MailboxStateService.followDeletes).
 * - Flags: STORE with UNCHANGEDSINCE = the MODSEQ the local change was based on (CONDSTORE). A change made on the
 *   server meanwhile wins: the message's current flags are read back and applied locally.
 * - Delete: MOVE to the Trash folder (special-use \Trash — imapflow also recognises the localised names of servers
 *   without SPECIAL-USE, "Deleted Items", "Corbeille", … — else a folder named Trash; a server with none gets a
 *   "Trash" folder, as mail clients create one: a delete in trash mode is never silently permanent) or, in `expunge`
 *   mode, \Deleted + UID EXPUNGE (without UIDPLUS, other messages marked \Deleted are kept out of the EXPUNGE:
 *   trash-folder.ts removeMessages). If that folder cannot be created, the deletes are retried like a failed command.
 *   A delete whose message is gone from its folder follows it when the sync finds it in another one (moved by
 *   another client meanwhile: chaseDeletes), else it is done once the attempts are over.
 * - A command that fails on a reachable server, or a dropped connection, is retried with backoff; after
 *   MAX_ATTEMPTS the row fails for good. Failed rows stay (status `failed`, `last_error`) and the email shows
 *   `sync_error` until a later change succeeds. A delete that failed has no email left: the next sync pass brings the
 *   message back with the reason as `sync_error` (folder-sync.ts, MailboxStateService.settleFailedDeletes).
 */
import type { ImapFlow, MailboxObject } from 'imapflow';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AdvisoryLocks, LockNamespace } from '../db/locks.js';
import { lockRowsInIdOrder } from '../db/rows.js';
import { exec } from '../db/sql.js';
import type { AccountsService } from '../modules/accounts/index.js';
import { setSyncErrors, type EmailChangesService, type FlagChange, type MailboxStateService } from '../modules/emails/index.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { flagChangeOf } from './fetch-new.js';
import { fetchUids, presentUids, storeFlag } from './imap-uids.js';
import { removeMessages, trashFolder, type DeleteTarget } from './trash-folder.js';

export const MAX_WRITE_BACK_ATTEMPTS = 8;
const BATCH = 1000;
/** A claimed row is invisible to other drains for this long (a crashed drain's rows come back after it). */
const CLAIM_MS = 5 * 60_000;

interface Job {
  id: string;
  email_id: number | null;
  folder: string;
  uid_validity: string;
  uid: string;
  action: 'seen' | 'unseen' | 'flag' | 'unflag' | 'delete';
  modseq: string | null;
  /** A delete's content identity (null: a flag change, or a delete queued before it was kept). */
  header_hash: string | null;
  attempts: number;
}

const FLAG_OF = { seen: '\\Seen', unseen: '\\Seen', flag: '\\Flagged', unflag: '\\Flagged' } as const;
const ADDS = new Set(['seen', 'flag']);

export interface WriteBackDeps {
  orm: MikroORM;
  accounts: AccountsService;
  state: MailboxStateService;
  /** Deletes the copy of a message moved on the server while its delete was queued (see chaseDeletes). */
  emailChanges: EmailChangesService;
  locks: AdvisoryLocks;
  log: Logger;
  backoff: BackoffOptions;
}

export interface DrainResult {
  applied: number;
  /** When the earliest remaining pending row is due (null: none pending). */
  nextDueAt: Date | null;
}

export class WriteBackDrainer {
  constructor(private readonly deps: WriteBackDeps) {}

  /** Applies the account's due rows (`all`: every pending row, e.g. after a reconnect) on `client`. */
  drain(accountId: number, client: ImapFlow, opts: { all?: boolean } = {}): Promise<DrainResult> {
    return this.deps.locks.withLock(LockNamespace.accountSync, accountId, async () => {
      const jobs = await this.claim(accountId, opts.all ?? false);
      let applied = 0;
      if (jobs.length > 0) {
        const account = await this.deps.accounts.findById(accountId);
        const target: DeleteTarget = account?.deleteMode === 'expunge' || !jobs.some((j) => j.action === 'delete') ? { expunge: true } : await trashFolder(client, this.deps.log, accountId);
        const byFolder = Map.groupBy(jobs, (j) => j.folder);
        for (const [folder, list] of byFolder) applied += await this.applyFolder(client, accountId, folder, list, target);
      }
      return { applied, nextDueAt: await this.nextDue(accountId) };
    });
  }

  private async claim(accountId: number, all: boolean): Promise<Job[]> {
    return exec<Job>(
      this.deps.orm.em.fork(),
      `UPDATE write_backs SET next_attempt_at = now() + (? || ' milliseconds')::interval
       WHERE id IN (SELECT id FROM write_backs WHERE account_id = ? AND status = 'pending' AND (? OR next_attempt_at <= now())
                    ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
       RETURNING id, email_id, folder, uid_validity, uid, action, modseq, header_hash, attempts`,
      [String(CLAIM_MS), accountId, all, BATCH],
    ).then((rows) => rows.sort((a, b) => Number(a.id) - Number(b.id)));
  }

  private async nextDue(accountId: number): Promise<Date | null> {
    const [r] = await exec<{ due: Date | string | null }>(
      this.deps.orm.em.fork(),
      `SELECT min(next_attempt_at) AS due FROM write_backs WHERE account_id = ? AND status = 'pending'`,
      [accountId],
    );
    return r?.due ? new Date(r.due) : null;
  }

  private async applyFolder(client: ImapFlow, accountId: number, folder: string, jobs: Job[], target: DeleteTarget): Promise<number> {
    let lock;
    try {
      lock = await client.getMailboxLock(folder);
    } catch (err) {
      await this.retry(accountId, folder, jobs, `Could not open folder ${folder}: ${errorMessage(err)}`);
      return 0;
    }
    try {
      const box = client.mailbox as MailboxObject;
      const uidValidity = Number(box.uidValidity);
      const stale = jobs.filter((j) => Number(j.uid_validity) !== uidValidity);
      const current = jobs.filter((j) => Number(j.uid_validity) === uidValidity);
      if (stale.length > 0) current.push(...(await this.retarget(accountId, folder, uidValidity, stale)));
      const condstore = client.enabled.has('CONDSTORE') && !box.noModseq;
      let applied = await this.applyFlags(client, accountId, folder, uidValidity, current.filter((j) => j.action !== 'delete'), condstore);
      applied += await this.applyDeletes(client, accountId, folder, current.filter((j) => j.action === 'delete'), target);
      return applied;
    } catch (err) {
      // A dropped connection or a failed command: the rows not finished yet are retried later.
      const left = await this.stillPending(jobs);
      await this.retry(accountId, folder, left, errorMessage(err));
      return 0;
    } finally {
      lock.release();
    }
  }

  /**
   * Flag jobs in rounds: round k holds each message's k-th change (oldest first). Our own STORE raises the message's
   * MODSEQ, so a later change of the same message in this drain is based on the MODSEQ read back after it — based on
   * the original one, UNCHANGEDSINCE would refuse it and the user's change would be lost as a "server change".
   */
  private async applyFlags(client: ImapFlow, accountId: number, folder: string, uidValidity: number, jobs: Job[], condstore: boolean): Promise<number> {
    const rounds: Job[][] = [];
    const count = new Map<string, number>();
    for (const job of jobs) {
      const k = count.get(job.uid) ?? 0;
      count.set(job.uid, k + 1);
      (rounds[k] ??= []).push(job);
    }
    const ours = new Map<string, string>();
    let applied = 0;
    for (const round of rounds) {
      for (const job of round) job.modseq = ours.get(job.uid) ?? job.modseq;
      const r = await this.applyFlagRound(client, accountId, folder, uidValidity, round, condstore);
      applied += r.succeeded.length;
      for (const s of r.succeeded) if (s.modseq) ours.set(s.job.uid, s.modseq);
    }
    return applied;
  }

  /** One STORE per (action, base MODSEQ), then the flags are read back to tell success, conflict and gone apart. */
  private async applyFlagRound(
    client: ImapFlow,
    accountId: number,
    folder: string,
    uidValidity: number,
    jobs: Job[],
    condstore: boolean,
  ): Promise<{ succeeded: { job: Job; modseq: string | null }[] }> {
    const refused: Job[] = [];
    const groups = Map.groupBy(jobs, (j) => `${j.action}\0${j.modseq ?? ''}`);
    for (const group of groups.values()) {
      const { action, modseq } = group[0]!;
      const flag = FLAG_OF[action as keyof typeof FLAG_OF];
      const ok = await storeFlag(client, group.map((j) => j.uid), flag, ADDS.has(action), condstore && modseq ? BigInt(modseq) : undefined);
      if (!ok) refused.push(...group);
    }
    // Read back after every STORE (never inside a fetch iteration): fetchAll has completed before we go on.
    const rows = await fetchUids(client, jobs.map((j) => j.uid), { flags: true });
    const server = new Map(rows.map((r) => [r.uid, flagChangeOf(r)]));
    const done: Job[] = [];
    const succeeded: { job: Job; modseq: string | null }[] = [];
    const conflicts: FlagChange[] = [];
    const retry: Job[] = [];
    const missing: Job[] = [];
    for (const job of jobs) {
      const s = server.get(Number(job.uid));
      if (!s) missing.push(job); // moved or expunged on the server meanwhile: the change follows its email
      else if (s.flags.includes(FLAG_OF[job.action as keyof typeof FLAG_OF]) === ADDS.has(job.action)) succeeded.push({ job, modseq: s.modseq });
      else if (refused.includes(job)) retry.push(job);
      else {
        // UNCHANGEDSINCE refused it: the server's change wins and comes back into the local row.
        done.push(job);
        conflicts.push({ uid: Number(job.uid), flags: s.flags, modseq: s.modseq });
      }
    }
    await this.finish(done, succeeded);
    if (conflicts.length > 0) {
      this.deps.log.info({ accountId, folder, uids: conflicts.map((c) => c.uid) }, 'write-back skipped: the message changed on the server meanwhile');
    }
    // The flags read back are the server's state of every message settled here, a success's too: the server may have
    // changed its other flags meanwhile (or set ours: UNCHANGEDSINCE refused the STORE, yet the flag is there), and a
    // flag sync that ran while this change was queued left the message alone and moved the folder's MODSEQ past them.
    // Only this read-back brings them in; a message with another change still queued waits for that one's.
    const settled = succeeded.map(({ job, modseq }): FlagChange => ({ uid: Number(job.uid), flags: server.get(Number(job.uid))!.flags, modseq }));
    await this.deps.state.applyFlags(accountId, folder, uidValidity, [...conflicts, ...settled]);
    if (retry.length > 0) await this.retry(accountId, folder, retry, `The server refused to change the flags in ${folder}`);
    // Re-targeted rows go to the next drain (even those back in this folder: this one is mid-round).
    await this.follow(accountId, folder, uidValidity, missing, `The message is no longer in ${folder}`);
    return { succeeded };
  }

  private async applyDeletes(client: ImapFlow, accountId: number, folder: string, jobs: Job[], target: DeleteTarget): Promise<number> {
    if (jobs.length === 0) return 0;
    if ('unavailable' in target) {
      await this.retry(accountId, folder, jobs, target.unavailable);
      return 0;
    }
    // A message moved (or expunged) on the server meanwhile is not there: its delete follows it (chaseDeletes).
    const there = new Set(await presentUids(client, jobs.map((j) => j.uid)));
    await this.chaseDeletes(accountId, folder, jobs.filter((j) => !there.has(Number(j.uid))), 'trash' in target ? target.trash : null);
    const present = jobs.filter((j) => there.has(Number(j.uid)));
    if (present.length === 0) return 0;
    // Deleting from the Trash itself expunges.
    const trash = 'trash' in target && target.trash !== folder ? target.trash : null;
    const moved = await removeMessages(client, present.map((j) => Number(j.uid)), trash);
    if (!moved) {
      await this.retry(accountId, folder, present, trash ? `Could not move the messages to ${trash}` : `Could not expunge the messages in ${folder}`);
      return 0;
    }
    await this.finish(present, []);
    return present.length;
  }

  /**
   * Deletes whose message is no longer in its folder: moved by another client, or expunged. Where the sync has stored
   * the message again since the delete was queued (same content identity; not in the Trash, where our own MOVE puts
   * it; in a folder already synced then: MailboxStateService.arrivedCopies), that copy is deleted — locally at once,
   * on the server by a delete queued for where it is now. The others wait for the sync while the attempts last; one
   * never found again was expunged (or filed where we do not sync): nothing is left to delete. A delete without a
   * content identity (queued before it was kept) has nothing to follow.
   */
  private async chaseDeletes(accountId: number, folder: string, jobs: Job[], trash: string | null): Promise<void> {
    if (jobs.length === 0) return;
    const copies = await this.deps.state.arrivedCopies(accountId, jobs.filter((j) => j.header_hash !== null).map((j) => j.id), trash);
    if (copies.size > 0) await this.deps.emailChanges.deleteInAccount(accountId, [...new Set(copies.values())]);
    const waiting = (j: Job) => j.header_hash !== null && !copies.has(String(j.id)) && j.attempts + 1 < MAX_WRITE_BACK_ATTEMPTS;
    await this.finish(jobs.filter((j) => !waiting(j)), []);
    await this.retry(accountId, folder, jobs.filter(waiting), `The message is no longer in ${folder}: waiting for the sync to find it in another folder`);
  }

  /**
   * Removes finished rows. A success clears the email's sync_error and records the message's new MODSEQ — on the
   * email, and on its other pending rows (our own STORE must not look like a conflicting server change to them).
   */
  private async finish(done: Job[], succeeded: { job: Job; modseq: string | null }[]): Promise<void> {
    const all = [...done, ...succeeded.map((s) => s.job)];
    if (all.length === 0) return;
    // Lock order emails → write_backs, as in the email changes service (a local delete locks the email, then its
    // pending rows): the other order deadlocked with a delete of an email whose flag change was just written back. And
    // the emails in id order (db/rows.ts): the UPDATE alone met them in queue order and deadlocked with a bulk change.
    await this.deps.orm.em.fork().transactional(async (em) => {
      const updates = succeeded.filter((s) => s.job.email_id !== null).map((s) => ({ id: s.job.email_id!, modseq: s.modseq, cause: s.job.id }));
      const json = JSON.stringify(updates);
      if (updates.length > 0) {
        await lockRowsInIdOrder(em, 'emails', 'id = ANY(?::int[])', [updates.map((u) => u.id)]);
        await exec(em, 'UPDATE emails e SET modseq = COALESCE(v.modseq, e.modseq) FROM jsonb_to_recordset(?::jsonb) AS v(id int, modseq bigint) WHERE e.id = v.id', [json]);
      }
      await exec(em, 'DELETE FROM write_backs WHERE id = ANY(?::bigint[])', [all.map((j) => j.id)]);
      if (updates.length === 0) return;
      await exec(
        em,
        `UPDATE write_backs w SET modseq = v.modseq FROM jsonb_to_recordset(?::jsonb) AS v(id int, modseq bigint)
         WHERE w.email_id = v.id AND w.status = 'pending' AND v.modseq IS NOT NULL AND w.modseq < v.modseq`,
        [json],
      );
      await setSyncErrors(em, updates.map((u) => ({ emailId: u.id, cause: String(u.cause) })), null);
    });
  }

  /** Transient failure: retried with backoff; after MAX_WRITE_BACK_ATTEMPTS it fails for good. */
  private async retry(accountId: number, folder: string, jobs: Job[], error: string): Promise<void> {
    if (jobs.length === 0) return;
    const exhausted = jobs.filter((j) => j.attempts + 1 >= MAX_WRITE_BACK_ATTEMPTS);
    const later = jobs.filter((j) => j.attempts + 1 < MAX_WRITE_BACK_ATTEMPTS);
    if (exhausted.length > 0) await this.fail(accountId, folder, exhausted, `${error} (gave up after ${MAX_WRITE_BACK_ATTEMPTS} attempts)`);
    if (later.length === 0) return;
    this.deps.log.warn({ accountId, folder, rows: later.length, err: error }, 'write-back failed; will retry');
    const em = this.deps.orm.em.fork();
    for (const j of later) {
      await exec(
        em,
        `UPDATE write_backs SET attempts = attempts + 1, last_error = ?, next_attempt_at = now() + (? || ' milliseconds')::interval WHERE id = ?`,
        [error, String(backoffDelay(j.attempts, this.deps.backoff)), j.id],
      );
    }
  }

  /** Permanent failure: the row stays as `failed` and the email (if it still exists) shows the error, with an event. */
  private async fail(accountId: number, folder: string, jobs: Job[], error: string): Promise<void> {
    this.deps.log.warn({ accountId, folder, rows: jobs.length, err: error }, 'write-back failed for good');
    await this.deps.orm.em.fork().transactional(async (em) => {
      const changes = jobs.filter((j) => j.email_id !== null).map((j) => ({ emailId: j.email_id!, cause: String(j.id) }));
      if (changes.length > 0) await lockRowsInIdOrder(em, 'emails', 'id = ANY(?::int[])', [changes.map((c) => c.emailId)]);
      await exec(em, `UPDATE write_backs SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ANY(?::bigint[])`, [error, jobs.map((j) => j.id)]);
      await setSyncErrors(em, changes, error);
    });
  }

  /**
   * Rows queued under an older UIDVALIDITY (see the module comment); returns those re-targeted to a current UID. A
   * delete waits, with backoff, for the sync's rematch to find its message by content identity and re-target it
   * (MailboxStateService.followDeletes); one without an identity (queued before it was kept) has nothing to follow.
   */
  private async retarget(accountId: number, folder: string, uidValidity: number, stale: Job[]): Promise<Job[]> {
    const why = `UIDVALIDITY of ${folder} changed (${[...new Set(stale.map((j) => j.uid_validity))].join(', ')} → ${uidValidity})`;
    const deletes = stale.filter((j) => j.action === 'delete');
    const lost = deletes.filter((j) => j.header_hash === null);
    if (lost.length > 0) await this.fail(accountId, folder, lost, `${why}: the change was not written to the server`);
    await this.retry(accountId, folder, deletes.filter((j) => j.header_hash !== null), `${why}: waiting for the sync to find the message again`);
    return this.follow(accountId, folder, uidValidity, stale.filter((j) => j.action !== 'delete'), why);
  }

  /**
   * Flag jobs whose row no longer names their message (see the module comment): each follows its email row. Re-targeted
   * to where the email is now when the sync has found the message elsewhere (another folder, UID or UIDVALIDITY), done
   * when the email is gone for good, else retried until the sync has caught up. Returns the jobs re-targeted to
   * `folder` under `uidValidity`, which the caller may apply at once.
   */
  private async follow(accountId: number, folder: string, uidValidity: number, jobs: Job[], why: string): Promise<Job[]> {
    if (jobs.length === 0) return [];
    const em = this.deps.orm.em.fork();
    const rows = await exec<{ id: string; folder: string | null; uid_validity: string | null; uid: string | null; departed: boolean }>(
      em,
      `SELECT w.id, e.folder, e.uid_validity, e.uid, EXISTS (SELECT 1 FROM email_departures d WHERE d.email_id = w.email_id) AS departed
       FROM write_backs w LEFT JOIN emails e ON e.id = w.email_id WHERE w.id = ANY(?::bigint[])`,
      [jobs.map((j) => j.id)],
    );
    const emailOf = new Map(rows.map((r) => [String(r.id), r]));
    const moved: Job[] = [];
    const gone: Job[] = [];
    const waiting: Job[] = [];
    for (const job of jobs) {
      const e = emailOf.get(String(job.id));
      const where = e?.uid ? { folder: e.folder!, uid_validity: String(e.uid_validity), uid: String(e.uid) } : null;
      if (!where) {
        // Gone locally. A message the sync saw leave may come back as moved (departures.ts): wait for it while the
        // attempts last; one that never does was expunged, and nothing is left to change.
        if (e?.departed && job.attempts + 1 < MAX_WRITE_BACK_ATTEMPTS) waiting.push(job);
        else gone.push(job);
      } else if (where.folder === job.folder && where.uid_validity === String(job.uid_validity) && where.uid === String(job.uid)) {
        waiting.push(job); // the sync has not seen the message leave yet
      } else if (where.folder === folder && Number(where.uid_validity) !== uidValidity) {
        waiting.push(job); // a UIDVALIDITY reset the sync has not matched yet
      } else moved.push({ ...job, ...where, modseq: null });
    }
    if (moved.length > 0) {
      await exec(
        em,
        `UPDATE write_backs w SET folder = v.folder, uid_validity = v.uid_validity, uid = v.uid, modseq = NULL, next_attempt_at = now()
         FROM jsonb_to_recordset(?::jsonb) AS v(id bigint, folder text, uid_validity bigint, uid bigint) WHERE w.id = v.id`,
        [JSON.stringify(moved.map((j) => ({ id: Number(j.id), folder: j.folder, uid_validity: Number(j.uid_validity), uid: Number(j.uid) })))],
      );
      this.deps.log.info({ accountId, folder, rows: moved.length }, 'write-back re-targeted to where the sync found the messages again');
    }
    await this.finish(gone, []);
    await this.retry(accountId, folder, waiting, `${why}: waiting for the sync to find the message again`);
    return moved.filter((j) => j.folder === folder && Number(j.uid_validity) === uidValidity);
  }

  /** The jobs whose rows still exist (a failure mid-folder must not resurrect rows finished before it). */
  private async stillPending(jobs: Job[]): Promise<Job[]> {
    const rows = await exec<{ id: string }>(this.deps.orm.em.fork(), `SELECT id FROM write_backs WHERE id = ANY(?::bigint[]) AND status = 'pending'`, [jobs.map((j) => j.id)]);
    const ids = new Set(rows.map((r) => String(r.id)));
    return jobs.filter((j) => ids.has(String(j.id)));
  }
}

/**
 * What only concurrency shows, against real PostgreSQL: a statement that waited for another transaction's row lock
 * must not act on what it read before the wait (READ COMMITTED re-checks only the locked row, not the rest of the
 * statement), and statements that lock several emails take them in one order (id). A flag sync racing a user's change;
 * an expunge racing a bulk change; two deletes in one thread recounting it; a thread merge racing a bulk change.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EmailChangesService, IngestService, MailboxStateService, type StoredEmail } from '../../src/modules/emails/index.js';
import { WriteBackDrainer, type WriteBackDeps } from '../../src/sync/write-back.js';
import { ThreadLinker } from '../../src/modules/threads/thread-linker.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql, waitForLockWait } from '../support/sync.js';

const t = useOrmDatabase();

let accounts = 0;
async function addAccount(): Promise<number> {
  const user = `u${++accounts}`;
  const [r] = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO accounts (name, email, host, port, username, password_sealed, sync_folders, created_at, updated_at)
     VALUES ($1::text, $1::text || '@example.com', '127.0.0.1', 1, $1::text, 'x', '["INBOX"]', now(), now()) RETURNING id`,
    [user],
  );
  return r!.id;
}

async function addEmail(accountId: number, uid: number, flags: string[], threadId: number | null = null): Promise<number> {
  const [r] = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO emails (account_id, folder, uid_validity, uid, modseq, header_hash, to_addresses, cc_addresses, headers, "references",
       received_at, flags, is_starred, raw_blob, thread_id, created_at, updated_at)
     VALUES ($1, 'INBOX', 7, $2::bigint, 10, 'h', '[]', '[]', '{}', '[]', now(), $3::jsonb, $4, 'r' || $2::text, $5, now(), now()) RETURNING id`,
    [accountId, uid, JSON.stringify(flags), flags.includes('\\Flagged'), threadId],
  );
  return r!.id;
}

/**
 * Two emails whose plans meet the higher id first: the higher id has the lower UID, and a flag update moved the lower
 * one's row after it in the heap. Whichever plan a statement takes (UID index, heap order), it reaches the higher first.
 */
async function crossedPair(accountId: number, uids: [number, number]): Promise<[low: number, high: number]> {
  const low = await addEmail(accountId, uids[1], []);
  const high = await addEmail(accountId, uids[0], []);
  await sql(t.db.url, `UPDATE emails SET flags = '["\\\\Seen"]', is_read = true WHERE id = $1`, [low]);
  return [low, high];
}

/** Runs `first` in an open transaction of its own, then `second` (which must wait for it), then commits `first`. */
async function whileOpen(first: (c: pg.Client) => Promise<void>, second: () => Promise<unknown>, what: string): Promise<void> {
  const tx = new pg.Client({ connectionString: t.db.url });
  await tx.connect();
  try {
    await tx.query('BEGIN');
    await first(tx);
    const waiting = second();
    await waitForLockWait(t.db.url, what);
    await tx.query('COMMIT');
    await waiting;
  } finally {
    await tx.end();
  }
}

/**
 * A bulk change of `low` and `high` (the email changes service locks them in id order) holds `low` while `op` runs,
 * then wants `high`: an `op` that locked `high` first and waits for `low` deadlocks with it (PostgreSQL aborts one
 * of the two with 40P01). Returns what `op` returned, or the error it threw.
 */
async function againstBulkChange(low: number, high: number, op: () => Promise<unknown>, what: string): Promise<unknown> {
  const user = new pg.Client({ connectionString: t.db.url });
  await user.connect();
  try {
    await user.query('BEGIN');
    await user.query('SELECT id FROM emails WHERE id = $1 FOR UPDATE', [low]);
    const done = op().catch((err: unknown) => err);
    await waitForLockWait(t.db.url, what);
    await user.query('SELECT id FROM emails WHERE id = $1 FOR UPDATE', [high]);
    await user.query('COMMIT');
    return await done;
  } finally {
    await user.end();
  }
}

const row = async (id: number) =>
  (await sql<{ is_starred: boolean; flags: string[] }>(t.db.url, 'SELECT is_starred, flags FROM emails WHERE id = $1', [id]))[0];

describe('MailboxStateService.applyFlags', () => {
  it('skips an email whose local change (and its queued write-back) committed while the sync waited for its row', async () => {
    const accountId = await addAccount();
    const starred = await addEmail(accountId, 1, ['\\Flagged']);
    const other = await addEmail(accountId, 2, []);
    const state = new MailboxStateService(t.orm);
    let applied: Promise<number> | undefined;
    await whileOpen(
      // The user unstars the message: the email changes service's transaction, still open when the sync's update comes.
      async (user) => {
        await user.query(`UPDATE emails SET flags = '[]', is_starred = false, updated_at = now() WHERE id = $1`, [starred]);
        await user.query(
          `INSERT INTO write_backs (account_id, email_id, folder, uid_validity, uid, action, modseq, next_attempt_at, created_at)
           VALUES ($1, $2, 'INBOX', 7, 1, 'unflag', 10, now(), now())`,
          [accountId, starred],
        );
      },
      // The sync read both messages' flags before that change: 1 still \Flagged on the server, 2 newly \Seen.
      () =>
        (applied = state.applyFlags(accountId, 'INBOX', 7, [
          { uid: 1, flags: ['\\Flagged'], modseq: '11' },
          { uid: 2, flags: ['\\Seen'], modseq: '12' },
        ])),
      'the flag sync',
    );
    expect(await applied).toBe(1);
    expect(await row(starred)).toEqual({ is_starred: false, flags: [] });
    expect((await row(other))!.flags).toEqual(['\\Seen']);
  });
});

describe('MailboxStateService.removeUids', () => {
  it('an expunge seen by the sync locks its emails in id order, as a bulk change does: the two do not deadlock', async () => {
    const accountId = await addAccount();
    const [low, high] = await crossedPair(accountId, [31, 32]);
    const state = new MailboxStateService(t.orm);
    expect(await againstBulkChange(low, high, () => state.removeUids(accountId, 'INBOX', 7, [31, 32]), 'the expunge')).toBe(2);
    expect(await sql(t.db.url, 'SELECT id FROM emails WHERE account_id = $1', [accountId])).toEqual([]);
  });
});

describe('writers of several emails lock them in id order, as a bulk change does: the two do not deadlock', () => {
  it.each([true, false])('an account deleted with delete_emails %s', async (deleteEmails) => {
    const accountId = await addAccount();
    const [low, high] = await crossedPair(accountId, [61, 62]);
    const changes = new EmailChangesService(t.orm);
    const deleting = () => t.orm.em.fork().transactional((em) => changes.onAccountDelete(em, accountId, { deleteEmails }));
    expect(await againstBulkChange(low, high, deleting, 'the account delete')).toBeUndefined();
  });

  it('failed server deletes settled by a sync pass', async () => {
    const accountId = await addAccount();
    const [low, high] = await crossedPair(accountId, [71, 72]);
    // Queued in the other order: the UPDATE … FROM write_backs meets the emails in the queue's order.
    for (const [emailId, uid] of [[high, 71], [low, 72]] as const) {
      await sql(
        t.db.url,
        `INSERT INTO write_backs (account_id, email_id, folder, uid_validity, uid, action, status, last_error, next_attempt_at, created_at)
         VALUES ($1, $2, 'INBOX', 7, $3, 'delete', 'failed', 'NO [CANNOT]', now(), now())`,
        [accountId, emailId, uid],
      );
    }
    const state = new MailboxStateService(t.orm);
    expect(await againstBulkChange(low, high, () => state.settleFailedDeletes(accountId, 'INBOX', 7, [71, 72]), 'the settling')).toBeUndefined();
    const rows = await sql<{ sync_error: string }>(t.db.url, 'SELECT sync_error FROM emails WHERE id = ANY($1::int[])', [[low, high]]);
    expect(rows.map((r) => r.sync_error)).toEqual([expect.stringContaining('NO [CANNOT]'), expect.stringContaining('NO [CANNOT]')]);
  });

  it('a UIDVALIDITY reset giving stale emails their new UIDs', async () => {
    const accountId = await addAccount();
    const [low, high] = await crossedPair(accountId, [91, 92]);
    // The statement pairs them in Message-ID order: the higher id's comes first.
    await sql(t.db.url, `UPDATE emails SET message_id = CASE WHEN id = $1 THEN 'b@x' ELSE 'a@x' END WHERE id = ANY($2::int[])`, [low, [low, high]]);
    const ids = [{ uid: 1, messageId: 'a@x' }, { uid: 2, messageId: 'b@x' }].map((m) => ({ ...m, headerHash: 'h', modseq: null, flags: [] }));
    const rematch = () => new IngestService(t.orm).rematch(accountId, 'INBOX', 8, ids, 3);
    expect(await againstBulkChange(low, high, rematch, 'the rematch')).toEqual(new Set([1, 2]));
    const rows = await sql(t.db.url, 'SELECT id, uid_validity::int AS v, uid::int FROM emails WHERE id = ANY($1::int[]) ORDER BY id', [[low, high]]);
    expect(rows).toEqual([{ id: low, v: 8, uid: 2 }, { id: high, v: 8, uid: 1 }]);
  });

  it('expunged emails handing their state over to their copies in another folder', async () => {
    const accountId = await addAccount();
    // Two archived emails leave INBOX; their copies arrived in Archive in the other order (the first's copy has the
    // higher id), so the hand-over, which goes by departure, meets the higher copy first.
    const gone = [await addEmail(accountId, 81, []), await addEmail(accountId, 82, [])];
    const copies = [await addEmail(accountId, 2, []), await addEmail(accountId, 1, [])];
    for (const [i, id] of gone.entries()) {
      await sql(t.db.url, `UPDATE emails SET message_id = $2, is_archived = true WHERE id = $1`, [id, `m${i}@x`]);
    }
    for (const [i, id] of copies.entries()) {
      await sql(t.db.url, `UPDATE emails SET message_id = $2, folder = 'Archive' WHERE id = $1`, [id, `m${1 - i}@x`]);
    }
    const state = new MailboxStateService(t.orm);
    expect(await againstBulkChange(copies[0]!, copies[1]!, () => state.removeUids(accountId, 'INBOX', 7, [81, 82]), 'the hand-over')).toBe(2);
    const rows = await sql<{ is_archived: boolean }>(t.db.url, 'SELECT is_archived FROM emails WHERE id = ANY($1::int[])', [copies]);
    expect(rows).toEqual([{ is_archived: true }, { is_archived: true }]);
  });
});

describe('WriteBackDrainer', () => {
  it('a finished write-back locks its emails in id order, as a bulk change does: the two do not deadlock', async () => {
    const accountId = await addAccount();
    const low = await addEmail(accountId, 41, []);
    const high = await addEmail(accountId, 42, []);
    await sql(t.db.url, `UPDATE emails SET flags = '["\\\\Seen"]', is_read = true WHERE id = $1`, [low]);
    // Queued the higher one first (two bulk changes): the drain finishes its jobs in queue order.
    const jobs: unknown[] = [];
    for (const [emailId, uid] of [[high, 42], [low, 41]] as const) {
      const [w] = await sql<{ id: string }>(
        t.db.url,
        `INSERT INTO write_backs (account_id, email_id, folder, uid_validity, uid, action, modseq, next_attempt_at, created_at)
         VALUES ($1, $2, 'INBOX', 7, $3, 'seen', 10, now(), now()) RETURNING id`,
        [accountId, emailId, uid],
      );
      jobs.push({ job: { id: w!.id, email_id: emailId, folder: 'INBOX', uid_validity: '7', uid: String(uid), action: 'seen', modseq: '10', attempts: 0 }, modseq: '11' });
    }
    const drainer = new WriteBackDrainer({ orm: t.orm, state: new MailboxStateService(t.orm), log: pino({ level: 'silent' }) } as unknown as WriteBackDeps);
    const finish = (drainer as unknown as { finish(done: unknown[], succeeded: unknown[]): Promise<void> }).finish.bind(drainer);
    expect(await againstBulkChange(low, high, () => finish([], jobs), 'the write-back')).toBeUndefined();
    expect(await sql(t.db.url, 'SELECT count(*)::int AS n FROM write_backs WHERE account_id = $1', [accountId])).toEqual([{ n: 0 }]);
  });
});

describe('thread counters', () => {
  it('two deletes in one thread, in concurrent transactions, leave the right message_count', async () => {
    const accountId = await addAccount();
    const [thread] = await sql<{ id: number }>(t.db.url, `INSERT INTO threads (account_id, subject, message_count, created_at) VALUES ($1, 's', 3, now()) RETURNING id`, [accountId]);
    const ids: number[] = [];
    for (const uid of [11, 12, 13]) ids.push(await addEmail(accountId, uid, [], thread!.id));
    // The first delete's trigger has recounted (and locked) the thread; the second recounts behind that lock.
    await whileOpen(
      async (first) => void (await first.query('DELETE FROM emails WHERE id = $1', [ids[0]])),
      () => sql(t.db.url, 'DELETE FROM emails WHERE id = $1', [ids[1]]),
      'the second delete',
    );
    expect(await sql(t.db.url, 'SELECT message_count FROM threads WHERE id = $1', [thread!.id])).toEqual([{ message_count: 1 }]);
  });

  it('a reply linked while a delete in its thread is still uncommitted: the count has the reply, not the deleted email', async () => {
    const accountId = await addAccount();
    const [thread] = await sql<{ id: number }>(t.db.url, `INSERT INTO threads (account_id, subject, message_count, created_at) VALUES ($1, 's', 2, now()) RETURNING id`, [accountId]);
    const [root, gone] = [await addEmail(accountId, 21, [], thread!.id), await addEmail(accountId, 22, [], thread!.id)];
    const reply = await addEmail(accountId, 23, []);
    await sql(t.db.url, `UPDATE emails SET message_id = 'm' || id WHERE id = ANY($1::int[])`, [[root, gone, reply]]);
    const stored = { id: reply, accountId, folder: 'INBOX', messageId: `m${reply}`, inReplyTo: `m${root}`, references: [], subject: 'Re: s', receivedAt: new Date() };
    await whileOpen(
      async (tx) => void (await tx.query('DELETE FROM emails WHERE id = $1', [gone])),
      () => t.orm.em.fork().transactional((em) => new ThreadLinker().afterInsert(em, [{ ...stored, message: {} as StoredEmail['message'] }])),
      'the thread linker',
    );
    expect(await sql(t.db.url, 'SELECT thread_id FROM emails WHERE id = $1', [reply])).toEqual([{ thread_id: thread!.id }]);
    expect(await sql(t.db.url, 'SELECT message_count FROM threads WHERE id = $1', [thread!.id])).toEqual([{ message_count: 2 }]);
  });

  it('a merge moves the emails of the merged thread locked in id order: no deadlock with a bulk change of them', async () => {
    const accountId = await addAccount();
    const newThread = async () =>
      (await sql<{ id: number }>(t.db.url, `INSERT INTO threads (account_id, subject, message_count, created_at) VALUES ($1, 's', 1, now()) RETURNING id`, [accountId]))[0]!.id;
    const [keep, other, merged] = [await newThread(), await newThread(), await newThread()];
    const root = await addEmail(accountId, 31, [], keep);
    const [low, high] = [await addEmail(accountId, 32, [], other), await addEmail(accountId, 33, [], merged)];
    // `low` joins the thread after `high`: the merge's UPDATE meets `high` first (index and heap order).
    await sql(t.db.url, 'UPDATE emails SET thread_id = $1 WHERE id = $2', [merged, low]);
    const reply = await addEmail(accountId, 34, []);
    await sql(t.db.url, `UPDATE emails SET message_id = 'm' || id WHERE id = ANY($1::int[])`, [[root, low, high, reply]]);
    // The reply names the root (thread `keep`) and `high` (thread `merged`): `merged` is merged into `keep`.
    const stored = { id: reply, accountId, folder: 'INBOX', messageId: `m${reply}`, inReplyTo: `m${high}`, references: [`m${root}`, `m${high}`], subject: 'Re: s', receivedAt: new Date() };
    // A user's bulk change of the conversation locks its emails in id order: `low`, then `high`.
    const user = new pg.Client({ connectionString: t.db.url });
    await user.connect();
    try {
      await user.query('BEGIN');
      await user.query('SELECT id FROM emails WHERE id = $1 FOR UPDATE', [low]);
      const linking = t.orm.em.fork().transactional((em) => new ThreadLinker().afterInsert(em, [{ ...stored, message: {} as StoredEmail['message'] }]));
      await waitForLockWait(t.db.url, 'the thread linker');
      await user.query('UPDATE emails SET is_read = true WHERE id = $1', [high]);
      await user.query('COMMIT');
      await linking;
    } finally {
      await user.end();
    }
    expect(await sql(t.db.url, 'SELECT DISTINCT thread_id FROM emails WHERE id = ANY($1::int[])', [[root, low, high, reply]])).toEqual([{ thread_id: keep }]);
    expect(await sql(t.db.url, 'SELECT message_count FROM threads WHERE id = $1', [keep])).toEqual([{ message_count: 4 }]);
  });
});

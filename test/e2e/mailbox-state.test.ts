/**
 * MailboxStateService against real PostgreSQL, for what only concurrency shows: a flag sync racing a local change.
 * The sync read the server's flags before the user's change was committed; its update must not overwrite that change
 * (the queued write-back settles it), even when it had to wait for the change's row lock.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { MailboxStateService } from '../../src/modules/emails/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql, waitForLockWait } from '../support/sync.js';

const t = useOrmDatabase();

async function addAccount(): Promise<number> {
  const [r] = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO accounts (name, email, host, port, username, password_sealed, sync_folders, created_at, updated_at)
     VALUES ('a', 'a@example.com', '127.0.0.1', 1, 'a', 'x', '["INBOX"]', now(), now()) RETURNING id`,
  );
  return r!.id;
}

async function addEmail(accountId: number, uid: number, flags: string[]): Promise<number> {
  const [r] = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO emails (account_id, folder, uid_validity, uid, modseq, header_hash, to_addresses, cc_addresses, headers, "references",
       received_at, flags, is_starred, raw_blob, created_at, updated_at)
     VALUES ($1, 'INBOX', 7, $2::bigint, 10, 'h', '[]', '[]', '{}', '[]', now(), $3::jsonb, $4, 'r' || $2::text, now(), now()) RETURNING id`,
    [accountId, uid, JSON.stringify(flags), flags.includes('\\Flagged')],
  );
  return r!.id;
}

const row = async (id: number) =>
  (await sql<{ is_starred: boolean; flags: string[] }>(t.db.url, 'SELECT is_starred, flags FROM emails WHERE id = $1', [id]))[0];

describe('MailboxStateService.applyFlags', () => {
  it('skips an email whose local change (and its queued write-back) committed while the sync waited for its row', async () => {
    const accountId = await addAccount();
    const starred = await addEmail(accountId, 1, ['\\Flagged']);
    const other = await addEmail(accountId, 2, []);
    const state = new MailboxStateService(t.orm);
    // The user unstars the message: the email changes service's transaction, still open when the sync's update comes.
    const user = new pg.Client({ connectionString: t.db.url });
    await user.connect();
    try {
      await user.query('BEGIN');
      await user.query(`UPDATE emails SET flags = '[]', is_starred = false, updated_at = now() WHERE id = $1`, [starred]);
      await user.query(
        `INSERT INTO write_backs (account_id, email_id, folder, uid_validity, uid, action, modseq, next_attempt_at, created_at)
         VALUES ($1, $2, 'INBOX', 7, 1, 'unflag', 10, now(), now())`,
        [accountId, starred],
      );
      // The sync read both messages' flags before that change: 1 still \Flagged on the server, 2 newly \Seen.
      const applied = state.applyFlags(accountId, 'INBOX', 7, [
        { uid: 1, flags: ['\\Flagged'], modseq: '11' },
        { uid: 2, flags: ['\\Seen'], modseq: '12' },
      ]);
      await waitForLockWait(t.db.url, 'the flag sync');
      await user.query('COMMIT');
      expect(await applied).toBe(1);
    } finally {
      await user.end();
    }
    expect(await row(starred)).toEqual({ is_starred: false, flags: [] });
    expect((await row(other))!.flags).toEqual(['\\Seen']);
  });
});

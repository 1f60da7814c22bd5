/**
 * SYNC_MOVE_WINDOW_MS=0 turns move tracking off: an expunged email is deleted without a departure, so nothing can
 * claim its id or state later (the moves themselves are covered end to end by sync-moves.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { MailboxStateService } from '../../src/modules/emails/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase();

async function emailIn(accountId: number, uid: number): Promise<number> {
  const [row] = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO emails (account_id, folder, uid_validity, uid, message_id, header_hash, to_addresses, cc_addresses, headers, "references", received_at, flags, raw_blob, created_at, updated_at)
     VALUES ($1, 'INBOX', 1, $2, $3, $4, '[]', '[]', '{}', '[]', now(), '[]', 'r', now(), now()) RETURNING id`,
    [accountId, uid, `<m${uid}@example.com>`, String(uid).padStart(64, '0')],
  );
  return row!.id;
}

describe('departures', () => {
  it('are recorded by default and not with a move window of 0; the email is deleted either way', async () => {
    const [account] = await sql<{ id: number }>(
      t.db.url,
      `INSERT INTO accounts (name, email, host, port, username, password_sealed, sync_folders, created_at, updated_at)
       VALUES ('a', 'a@example.com', 'localhost', 143, 'a', 'x', '["INBOX"]', now(), now()) RETURNING id`,
    );
    const tracked = await emailIn(account!.id, 1);
    const untracked = await emailIn(account!.id, 2);
    expect(await new MailboxStateService(t.orm).removeUids(account!.id, 'INBOX', 1, [1])).toBe(1);
    expect(await new MailboxStateService(t.orm, 0).removeUids(account!.id, 'INBOX', 1, [2])).toBe(1);
    expect(await sql(t.db.url, 'SELECT id FROM emails WHERE id = ANY($1)', [[tracked, untracked]])).toEqual([]);
    expect(await sql(t.db.url, 'SELECT email_id FROM email_departures')).toEqual([{ email_id: tracked }]);
    const deleted = await sql<{ payload: { emailId: number } }>(t.db.url, "SELECT payload FROM events WHERE type = 'email.deleted' ORDER BY seq");
    expect(deleted.map((e) => e.payload.emailId)).toEqual([tracked, untracked]);
  });
});

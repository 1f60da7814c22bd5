/**
 * Steps shared by the write-back tests (write-back*.test.ts): bulk changes over REST, the email row and the queue
 * as stored, and the account's sync lock held from outside so that a change stays queued.
 */
import pg from 'pg';
import { serverFlags, syncedAccount, type MailCreds, type MailEnv } from './mail-account.js';
import type { Credentials } from './server.js';
import { sql } from './sync.js';

export interface EmailRowState {
  is_read: boolean;
  is_starred: boolean;
  is_archived: boolean;
  read_at: Date | null;
  flags: string[];
  sync_error: string | null;
}

/** The helpers bound to a test file's environment (read lazily: its fields are set in beforeAll). */
export function writeBackSteps(t: MailEnv) {
  const steps = {
    syncedAccount: (subjects: string[], extra: Record<string, unknown> = {}, folder = 'INBOX') => syncedAccount(t, subjects, extra, folder),
    serverFlags: (creds: MailCreds, folder: string, subject: string) => serverFlags(t.dovecot, creds, folder, subject),
    bulk: (ids: number[], action: string, auth?: Credentials) => t.srv.api('/api/emails/bulk', { method: 'POST', json: { ids, action }, ...(auth ? { auth } : {}) }),
    emailRow: async (id: number): Promise<EmailRowState | undefined> =>
      (await sql<EmailRowState>(t.dbUrl, 'SELECT is_read, is_starred, is_archived, read_at, flags, sync_error FROM emails WHERE id = $1', [id]))[0],
    pendingRows: (accountId: number) =>
      sql<{ action: string; status: string; last_error: string | null }>(t.dbUrl, 'SELECT action, status, last_error FROM write_backs WHERE account_id = $1 ORDER BY id', [accountId]),
    /** Holds the account's sync lock (the drain's too), so a change stays queued until `release()`. */
    holdSyncLock: async (accountId: number): Promise<{ release: () => Promise<void> }> => {
      const client = new pg.Client({ connectionString: t.dbUrl });
      await client.connect();
      await client.query('SELECT pg_advisory_lock(7101, $1)', [accountId]);
      return { release: async () => void (await client.query('SELECT pg_advisory_unlock(7101, $1)', [accountId]), await client.end()) };
    },
    /**
     * Deletes an email over REST while the sync lock is held, then runs `queueSql` on the account's write-back rows
     * ($1 = account id) before the drain can take them: the delete is left as that statement makes it.
     */
    deleteQueued: async (accountId: number, emailId: number, queueSql: string): Promise<void> => {
      const lock = await steps.holdSyncLock(accountId);
      try {
        const r = await t.srv.api(`/api/emails/${emailId}`, { method: 'DELETE' });
        if (r.status !== 200) throw new Error(`DELETE /api/emails/${emailId}: ${r.status} ${r.text}`);
        await sql(t.dbUrl, queueSql, [accountId]);
      } finally {
        await lock.release();
      }
    },
  };
  return steps;
}

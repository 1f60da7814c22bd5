/**
 * PostgreSQL out of disk space (SQLSTATE 53100 disk_full: in the zero-setup default its cluster lives in DATA_DIR with
 * the blobs, so a full DATA_DIR fills it too). Injected deterministically with triggers that raise disk_full, as
 * PostgreSQL does when it cannot extend a file. The sync reports it as such, with a 503 (it was a 500 "Internal server
 * error"), the account's last_error says so (it said "IMAP error from host:port: could not extend file…" when a
 * statement of the session itself failed), the API answers 503 with Retry-After, and all resumes once there is space.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { expectInSync, sql } from '../support/sync.js';
import { writeBackSteps } from '../support/write-back.js';

const t = useMailEnv({ RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000', SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000' });
const { syncedAccount, emailRow, pendingRows } = writeBackSteps(t);

const FULL = 'could not extend file "base/16384/16518": No space left on device';
const fillUp = async (table: string, op: string) => {
  await sql(t.dbUrl, `CREATE OR REPLACE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${FULL}' USING ERRCODE = 'disk_full'; END $$`);
  await sql(t.dbUrl, `CREATE TRIGGER disk_full BEFORE ${op} ON ${table} FOR EACH ROW EXECUTE FUNCTION disk_full()`);
};
const freeUp = (table: string) => sql(t.dbUrl, `DROP TRIGGER disk_full ON ${table}`);
const lastError = async (accountId: number) => (await t.srv.api(`/api/accounts/${accountId}`)).body.data.last_error as string | null;
const reason = `The database is out of disk space: ${FULL}`;

describe('PostgreSQL out of disk space', () => {
  it('a sync pass that cannot store its mail: 503, last_error and sync.failed say so; the sync resumes once there is space', async () => {
    const { creds, accountId } = await syncedAccount(['before']);
    await fillUp('emails', 'INSERT');
    try {
      await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'during' }));
      // The pass IDLE starts fails (the account says why); so does a requested one.
      await expectEventually(async () => expect(await lastError(accountId)).toContain(reason), { timeoutMs: 20_000, intervalMs: 100 });
      const r = await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
      expect(r.status, r.text).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(r.body.error).toBe(`Sync failed: ${reason}`);
      const [failed] = await sql<{ error: string }>(t.dbUrl, "SELECT payload->>'error' AS error FROM events WHERE type = 'sync.failed' AND account_id = $1 ORDER BY seq DESC LIMIT 1", [accountId]);
      expect(failed!.error).toBe(reason);
    } finally {
      await freeUp('emails');
    }
    await expectEventually(async () => {
      expect(await lastError(accountId)).toBeNull();
      await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    }, { timeoutMs: 20_000, intervalMs: 200 });
  }, 60_000);

  it("a statement of the account's session failing (its write-back drain) is reported as the database's, not the IMAP server's", async () => {
    const { creds, accountId, ids } = await syncedAccount(['drained']);
    await fillUp('write_backs', 'UPDATE');
    try {
      expect((await t.srv.api(`/api/emails/${ids.get('drained')!}`, { method: 'PATCH', json: { is_read: true } })).status).toBe(200);
      await expectEventually(async () => expect(await lastError(accountId)).toContain(reason), { timeoutMs: 20_000, intervalMs: 100 });
    } finally {
      await freeUp('write_backs');
    }
    await expectEventually(async () => {
      expect(await pendingRows(accountId)).toEqual([]);
      expect(await lastError(accountId)).toBeNull();
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(await emailRow(ids.get('drained')!)).toMatchObject({ is_read: true, sync_error: null });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
  }, 60_000);

  it('an API write that cannot be stored is a 503 with Retry-After that says why', async () => {
    const { accountId } = await syncedAccount(['api']);
    await fillUp('accounts', 'UPDATE');
    try {
      const r = await t.srv.api(`/api/accounts/${accountId}`, { method: 'PUT', json: { name: 'renamed' } });
      expect(r.status, r.text).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(r.body).toEqual({ success: false, error: 'The database is out of disk space; retry once there is space again' });
    } finally {
      await freeUp('accounts');
    }
    expect((await t.srv.api(`/api/accounts/${accountId}`, { method: 'PUT', json: { name: 'renamed' } })).status).toBe(200);
  }, 60_000);
});

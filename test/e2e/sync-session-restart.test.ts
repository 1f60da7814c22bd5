/**
 * A sync request (POST /api/accounts/{id}/sync) that joined the pass of the account's IMAP session, when that session is
 * stopped under it: the account was updated (the session restarts with the new settings), deactivated or deleted. The
 * pass ends because we closed its connection, not because the IMAP server failed: the request runs again instead of
 * answering 502, and no failure is recorded on the account (last_error, `sync.failed`).
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { buildMessage, toCrlf } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { fillMaildir } from '../support/maildir.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000' });

const stored = async (accountId: number) => Number((await sql<{ n: string }>(t.dbUrl, 'SELECT count(*) n FROM emails WHERE account_id = $1', [accountId]))[0]!.n);

/** An active account whose first pass (on its session) has stored some of `total` messages, and a request joined to it. */
async function joinedFirstSync(total: number) {
  const creds = await t.dovecot.createUser();
  await fillMaildir(t.dovecot.dir, creds.user, Array.from({ length: total }, (_, i) => toCrlf(buildMessage({ subject: `m ${i}`, text: `body ${i} `.repeat(200) }))));
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Restart', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
  });
  expect(r.status, r.text).toBe(201);
  const accountId = r.body.data.id as number;
  await expectEventually(async () => expect(await stored(accountId)).toBeGreaterThan(100), { timeoutMs: 30_000, intervalMs: 10 });
  const request = t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
  return { creds, accountId, request };
}

describe('the session of a running pass stops', () => {
  it('the account is renamed: the joined request still gets its pass, and no failure is recorded', async () => {
    const total = 1500;
    const { creds, accountId, request } = await joinedFirstSync(total);
    const put = await t.srv.api(`/api/accounts/${accountId}`, { method: 'PUT', json: { name: 'Renamed' } });
    expect(put.status, put.text).toBe(200);
    const answer = await request;
    expect(answer.status, answer.text).toBe(200);
    expect(await stored(accountId)).toBe(total);
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    expect(await receivedEvents(t.dbUrl, accountId)).toBe(total);
    expect(await sql(t.dbUrl, "SELECT payload FROM events WHERE type = 'sync.failed' AND account_id = $1", [accountId])).toEqual([]);
    const account = await t.srv.api(`/api/accounts/${accountId}`);
    expect(account.body.data.last_error ?? null).toBeNull();
  }, 120_000);

  it('the account is deleted: the joined request is a 404, not a 502', async () => {
    const { accountId, request } = await joinedFirstSync(1500);
    expect((await t.srv.api(`/api/accounts/${accountId}?delete_emails=1`, { method: 'DELETE' })).status).toBe(200);
    const answer = await request;
    expect(answer.status, answer.text).toBe(404);
  }, 120_000);
});

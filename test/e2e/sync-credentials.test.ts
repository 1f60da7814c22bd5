/**
 * The password changes on the server under a live session: the next login fails, the account is paused with the
 * reason (no reconnect storm against the server), and updating the account's password resumes the sync.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { receivedEvents } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000' });

const failedLogins = async (user: string) =>
  (await readFile(path.join(t.dovecot.dir, 'dovecot.log'), 'utf8')).split('\n').filter((l) => l.includes(`user=<${user}>`) && /auth failed/.test(l)).length;

describe('credentials rejected by the server', () => {
  it('pause the account with the reason until it is updated; then the sync resumes', async () => {
    const { creds, accountId } = await syncedAccount(t, ['first']);
    const newPassword = 'changed-on-the-server-1';
    await writeFile(path.join(t.dovecot.dir, 'users', creds.user), `${creds.user}:{PLAIN}${newPassword}::::::\n`);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // Dovecot re-reads a passwd-file at most once a second
    await t.dovecot.doveadm(['kick', creds.user]);

    await expectEventually(async () => {
      const a = (await t.srv.api(`/api/accounts/${accountId}`)).body.data;
      expect(a.connected).toBe(false);
      expect(a.sync_paused_at).not.toBeNull();
      expect(a.last_error).toMatch(/Authentication failed/);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    const failures = await failedLogins(creds.user);
    expect(failures).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // backoff is 0.2–1 s here: a storm would show
    expect(await failedLogins(creds.user)).toBe(failures);

    await appendMessage(t.dovecot, { user: creds.user, password: newPassword }, 'INBOX', buildMessage({ subject: 'while paused' }));
    const r = await t.srv.api(`/api/accounts/${accountId}`, { method: 'PUT', json: { password: newPassword } });
    expect(r.status).toBe(200);
    expect(r.body.data.sync_paused_at).toBeNull();
    await expectEventually(async () => expect(await receivedEvents(t.dbUrl, accountId)).toBe(2), { timeoutMs: 15_000, intervalMs: 100 });
    await expectEventually(async () => {
      const a = (await t.srv.api(`/api/accounts/${accountId}`)).body.data;
      expect(a).toMatchObject({ connected: true, last_error: null, sync_paused_at: null });
    });
  }, 60_000);
});

/**
 * A server that allows one session per user (Dovecot `mail_max_userip_connections = 1`, as some hosted servers do):
 * a login while another client holds the slot is answered `NO [LIMIT]`. That is no reason to park the account as if
 * its password were wrong: the session retries with backoff (no storm) and syncs once the slot is free; our own
 * extra requests (a manual sync) use the account's session instead of competing with it for the slot; and a
 * connection test refused for the limit does not mark the connected account disconnected.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { useMailEnv, type MailCreds } from '../support/mail-account.js';
import { receivedEvents } from '../support/sync.js';

const t = useMailEnv(
  { SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '500', SYNC_BACKOFF_MAX_MS: '2000' },
  undefined,
  { extraConfig: 'mail_max_userip_connections = 1' },
);

/** Logins of `user` Dovecot refused for the connection limit so far. */
const refusedLogins = async (user: string) =>
  (await readFile(path.join(t.dovecot.dir, 'dovecot.log'), 'utf8')).split('\n').filter((l) => l.includes(`user=<${user}>`) && l.includes('Maximum number of connections')).length;

/** Another client of the user (a phone) holding a session. */
async function otherClient(creds: MailCreds): Promise<ImapFlow> {
  const c = new ImapFlow({ host: t.dovecot.host, port: t.dovecot.port, secure: false, doSTARTTLS: false, auth: { user: creds.user, pass: creds.password }, logger: false });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function createAccount(creds: MailCreds): Promise<number> {
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'One slot', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as number;
}

const account = async (id: number) => (await t.srv.api(`/api/accounts/${id}`)).body.data;

describe('a server that allows one session per user', () => {
  it('a login refused for the connection limit is retried with backoff, not paused as bad credentials', async () => {
    const creds = await t.dovecot.createUser();
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'waiting for the slot' }));
    const phone = await otherClient(creds);
    let id: number;
    try {
      id = await createAccount(creds);
      await expectEventually(async () => expect(await refusedLogins(creds.user)).toBeGreaterThanOrEqual(2), { timeoutMs: 15_000, intervalMs: 100 });
      const a = await account(id);
      expect(a).toMatchObject({ connected: false, sync_paused_at: null });
      expect(a.last_error).toMatch(/refused the session for now \[LIMIT\]: Maximum number of connections/);
      // Backoff 0.5–2 s: a few attempts in 4 s, not a storm.
      const before = await refusedLogins(creds.user);
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect(await refusedLogins(creds.user)).toBeLessThanOrEqual(before + 8);
      expect((await account(id)).sync_paused_at).toBeNull();
    } finally {
      await phone.logout().catch(() => phone.close());
    }
    // The slot is free: the session comes up by itself and syncs.
    await expectEventually(async () => expect(await receivedEvents(t.dbUrl, id)).toBe(1), { timeoutMs: 15_000, intervalMs: 100 });
    await expectEventually(async () => expect(await account(id)).toMatchObject({ connected: true, last_error: null, sync_paused_at: null }), { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);

  it('a manual sync runs on the account\'s session; a connection test refused for the limit leaves its status alone', async () => {
    const creds = await t.dovecot.createUser();
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'first' }));
    const id = await createAccount(creds);
    await expectEventually(async () => expect(await account(id)).toMatchObject({ connected: true, last_sync_at: expect.any(String) }), { timeoutMs: 15_000, intervalMs: 100 });
    // Delivered without IMAP (the slot is the account's), and synced by the request rather than by IDLE or a poll
    // (whichever comes first, the request answers once the message is stored).
    await t.dovecot.doveadm(['save', '-u', creds.user, '-m', 'INBOX'], buildMessage({ subject: 'second' }));
    const r = await t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
    expect(r.status, r.text).toBe(200);
    const one = await t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: { folder: 'INBOX', full_resync: true } });
    expect(one.status, one.text).toBe(200);
    expect(await receivedEvents(t.dbUrl, id)).toBe(2);
    expect(await refusedLogins(creds.user)).toBe(0);
    expect(await account(id)).toMatchObject({ connected: true, last_error: null, sync_paused_at: null });

    // A connection test needs a login of its own: refused while the session holds the slot, it says so, and leaves
    // the account's status (its live session's) alone.
    const test = await t.srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
    expect(test.status, test.text).toBe(200);
    expect(test.body.data).toMatchObject({ connected: false, message: expect.stringMatching(/refused the session for now \[LIMIT\]/) });
    expect(await account(id)).toMatchObject({ connected: true, last_error: null, sync_paused_at: null });
  }, 60_000);
});

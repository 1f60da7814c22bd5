/**
 * An account's session follows the account: deactivated, it logs out and the account stops showing `connected`;
 * reactivated or updated (even while its first sync runs), exactly one session runs again — none leaked on the server.
 */
import { describe, expect, it } from 'vitest';
import { generateMailbox } from '../fixtures/messages.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, createFolder, withImap } from '../support/imap.js';
import { fillMaildir } from '../support/maildir.js';
import { useMailEnv, type MailCreds } from '../support/mail-account.js';
import { expectInSync, receivedEvents, serverView, sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000' });

/** IMAP sessions of `user` open on the server now (`doveadm who`: `user  count  proto  (pids)  (ips)`). */
async function sessions(user: string): Promise<number> {
  const out = await t.dovecot.doveadm(['who', user]).catch(() => '');
  return out
    .split('\n')
    .filter((l) => l.split(/\s+/)[0] === user)
    .reduce((n, l) => n + Number(l.split(/\s+/)[1] ?? 0), 0);
}

async function createAccount(creds: MailCreds, extra: Record<string, unknown> = {}): Promise<number> {
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Lifecycle', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true, ...extra },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as number;
}

const account = async (id: number) => (await t.srv.api(`/api/accounts/${id}`)).body.data;
const put = async (id: number, json: Record<string, unknown>) => {
  const r = await t.srv.api(`/api/accounts/${id}`, { method: 'PUT', json });
  expect(r.status, r.text).toBe(200);
};

/** Two users whose INBOXes have the same UIDVALIDITY (created in the same second). */
async function sameValidityPair(): Promise<[MailCreds, MailCreds]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const [a, b] = [await t.dovecot.createUser(), await t.dovecot.createUser()];
    const [va, vb] = await Promise.all([serverView(t.dovecot, a, 'INBOX'), serverView(t.dovecot, b, 'INBOX')]);
    if (va.uidValidity === vb.uidValidity) return [a, b];
  }
  throw new Error('no two mailboxes with the same UIDVALIDITY');
}

describe('the session follows the account', () => {
  it('deactivated: the session logs out and the account is no longer connected; reactivated: it syncs again', async () => {
    const creds = await t.dovecot.createUser();
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'before' }));
    const id = await createAccount(creds);
    await expectEventually(async () => {
      expect(await account(id)).toMatchObject({ connected: true, last_sync_at: expect.any(String) });
      expect(await sessions(creds.user)).toBe(1);
    }, { timeoutMs: 15_000, intervalMs: 100 });

    await put(id, { is_active: false });
    await expectEventually(async () => {
      expect(await sessions(creds.user)).toBe(0);
      expect(await account(id)).toMatchObject({ is_active: false, connected: false });
    }, { timeoutMs: 10_000, intervalMs: 100 });

    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'while inactive' }));
    await put(id, { is_active: true });
    await expectEventually(async () => {
      expect(await receivedEvents(t.dbUrl, id)).toBe(2);
      expect(await account(id)).toMatchObject({ connected: true, last_error: null });
      expect(await sessions(creds.user)).toBe(1);
    }, { timeoutMs: 15_000, intervalMs: 100 });
  }, 60_000);

  it('updated while its first sync runs (folders, then password): one session afterwards, every folder in sync', async () => {
    const creds = await t.dovecot.createUser();
    await createFolder(t.dovecot, creds, 'Projects');
    await appendMessage(t.dovecot, creds, 'Projects', buildMessage({ subject: 'project' }));
    await fillMaildir(t.dovecot.dir, creds.user, generateMailbox(800, 5));
    const id = await createAccount(creds);
    const stored = async () => Number((await sql<{ n: string }>(t.dbUrl, 'SELECT count(*) AS n FROM emails WHERE account_id = $1', [id]))[0]!.n);
    await expectEventually(async () => expect(await stored()).toBeGreaterThan(50), { timeoutMs: 30_000, intervalMs: 10 });
    await put(id, { sync_folders: ['INBOX', 'Projects'] });
    await put(id, { password: creds.password });
    await expectEventually(async () => {
      await expectInSync(t.dbUrl, id, t.dovecot, creds, 'INBOX');
      await expectInSync(t.dbUrl, id, t.dovecot, creds, 'Projects');
      expect(await account(id)).toMatchObject({ connected: true, last_error: null, sync_paused_at: null });
    }, { timeoutMs: 60_000, intervalMs: 250 });
    // The sessions stopped for the updates are gone (the check's own one is closed by now).
    await expectEventually(async () => expect(await sessions(creds.user)).toBe(1), { timeoutMs: 10_000, intervalMs: 100 });
    expect(await receivedEvents(t.dbUrl, id)).toBe(801);
  }, 90_000);

  it('pointed at another mailbox (username changed) whose INBOX has the same UIDVALIDITY: holds that mailbox, not a mix', async () => {
    // Dovecot's UIDVALIDITY is the mailbox's creation time: mailboxes created in the same second share it. The stored
    // UIDs of the first mailbox looked valid in the second: its messages stayed, and the second's below the old cursor
    // were never fetched (and a write-back would have flagged whichever message had that UID there).
    const [a, b] = await sameValidityPair();
    await withImap(t.dovecot, a, async (c) => {
      for (let i = 0; i < 3; i++) await c.append('INBOX', buildMessage({ subject: `first ${i}` }));
    });
    await withImap(t.dovecot, b, async (c) => {
      for (let i = 0; i < 5; i++) await c.append('INBOX', buildMessage({ subject: `second ${i}` }), i === 0 ? ['\\Seen'] : []);
    });
    const id = await createAccount(a);
    await expectEventually(async () => expectInSync(t.dbUrl, id, t.dovecot, a, 'INBOX'), { timeoutMs: 15_000, intervalMs: 100 });
    // Another spelling of the same login (Dovecot lowercases it): the same mailbox, matched again with its local state.
    await sql(t.dbUrl, "UPDATE emails SET is_archived = true WHERE account_id = $1 AND subject = 'first 1'", [id]);
    const before = await sql<{ id: number; subject: string; is_archived: boolean }>(t.dbUrl, 'SELECT id, subject, is_archived FROM emails WHERE account_id = $1 ORDER BY id', [id]);
    await put(id, { username: a.user.toUpperCase() });
    await expectEventually(async () => {
      await expectInSync(t.dbUrl, id, t.dovecot, a, 'INBOX');
      expect(await sql(t.dbUrl, 'SELECT id, subject, is_archived FROM emails WHERE account_id = $1 ORDER BY id', [id])).toEqual(before);
    }, { timeoutMs: 20_000, intervalMs: 200 });
    await put(id, { username: b.user, password: b.password });
    await expectEventually(async () => {
      await expectInSync(t.dbUrl, id, t.dovecot, b, 'INBOX');
      const rows = await sql<{ subject: string }>(t.dbUrl, 'SELECT subject FROM emails WHERE account_id = $1 ORDER BY uid', [id]);
      expect(rows.map((r) => r.subject)).toEqual([0, 1, 2, 3, 4].map((i) => `second ${i}`));
    }, { timeoutMs: 20_000, intervalMs: 200 });
  }, 60_000);

  it('pointed at another mailbox whose folder has the same UIDVALIDITY and nothing of it was stored: fetches it all', async () => {
    // The first mailbox's INBOX was emptied: no email to mark stale, but its cursor (UIDNEXT 4) stayed, and the second
    // mailbox's messages below it were never fetched.
    const [a, b] = await sameValidityPair();
    await withImap(t.dovecot, a, async (c) => {
      for (let i = 0; i < 3; i++) await c.append('INBOX', buildMessage({ subject: `gone ${i}` }));
      await c.mailboxOpen('INBOX');
      await c.messageDelete('1:*');
    });
    await withImap(t.dovecot, b, async (c) => {
      for (let i = 0; i < 5; i++) await c.append('INBOX', buildMessage({ subject: `second ${i}` }));
    });
    const id = await createAccount(a);
    await expectEventually(async () => expect(await account(id)).toMatchObject({ folders: [expect.objectContaining({ folder: 'INBOX', uid_next: 4 })] }), { timeoutMs: 15_000, intervalMs: 100 });
    await put(id, { username: b.user, password: b.password });
    await expectEventually(async () => expectInSync(t.dbUrl, id, t.dovecot, b, 'INBOX'), { timeoutMs: 20_000, intervalMs: 200 });
  }, 60_000);
});

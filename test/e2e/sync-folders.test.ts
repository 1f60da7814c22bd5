/**
 * Sync folders the server does not have (never created, or deleted while synced): skipped and reported on the
 * account, while the other folders keep syncing and the session stays up with IDLE; their stored mail is kept. And
 * a message moved between synced folders by another client, seen by the live session (IDLE and polls, in whichever
 * order): it keeps its local state.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, createFolder, withImap } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

// Many account reads while waiting for the sessions: the API's rate limit is not under test here.
const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });

async function account(syncFolders: string[]) {
  const creds = await t.dovecot.createUser();
  await createFolder(t.dovecot, creds, 'Projects');
  await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'inbox 1' }));
  await appendMessage(t.dovecot, creds, 'Projects', buildMessage({ subject: 'project 1' }));
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Folders', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true, sync_folders: syncFolders },
  });
  expect(r.status, r.text).toBe(201);
  return { creds, id: r.body.data.id as number };
}

/** Sync passes recorded for the account: a stable session adds none while nothing changes; a flapping one, one per reconnect. */
const passes = async (id: number) =>
  Number((await sql<{ n: string }>(t.dbUrl, "SELECT count(*) AS n FROM events WHERE account_id = $1 AND type IN ('sync.completed', 'sync.failed')", [id]))[0]!.n);

/** No new pass for 2.5 s (polls, one a second, keep meeting the missing folders), within 15 s of settling. */
async function expectStableSession(id: number): Promise<void> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const before = await passes(id);
    await sleep(2500);
    if ((await passes(id)) === before) break;
    // A poll may still have been catching up with the last change; a flapping session never settles.
    expect(Date.now(), 'the session keeps reconnecting').toBeLessThan(deadline);
  }
  expect((await t.srv.api(`/api/accounts/${id}`)).body.data.connected).toBe(true);
}

const subjects = async (id: number) => (await sql<{ s: string }>(t.dbUrl, "SELECT folder || '/' || subject AS s FROM emails WHERE account_id = $1 ORDER BY id", [id])).map((r) => r.s);

describe('sync folders missing on the server', () => {
  it('are skipped and reported; the others sync, IDLE goes on, a deleted folder keeps its stored mail', async () => {
    const { creds, id } = await account(['INBOX', 'Projects', 'Never']);
    await expectEventually(async () => expect(await subjects(id)).toEqual(['INBOX/inbox 1', 'Projects/project 1']), { timeoutMs: 15_000 });
    await expectEventually(async () => {
      const a = (await t.srv.api(`/api/accounts/${id}`)).body.data;
      expect(a).toMatchObject({ connected: true, last_error: 'Sync folders missing on the IMAP server: Never' });
    });
    const one = await t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: { folder: 'Never' } });
    expect(one.status).toBe(404);
    expect(one.body.error).toMatch(/"Never" does not exist/);
    const all = await t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST' });
    expect(all.status).toBe(200);

    await withImap(t.dovecot, creds, (c) => c.mailboxDelete('Projects'));
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'inbox 2' }));
    await expectEventually(async () => expect(await receivedEvents(t.dbUrl, id)).toBe(3), { timeoutMs: 10_000, intervalMs: 100 });
    // Deleted while the session runs: reported like a folder missing at its start, without waiting for a reconnect.
    await expectEventually(async () => {
      const a = (await t.srv.api(`/api/accounts/${id}`)).body.data;
      expect(a).toMatchObject({ connected: true, last_error: 'Sync folders missing on the IMAP server: Projects, Never' });
      expect(a.folders.find((f: { folder: string }) => f.folder === 'Projects')).toMatchObject({ last_error: 'The folder does not exist on the IMAP server' });
    }, { timeoutMs: 10_000, intervalMs: 250 });
    await expectStableSession(id);
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'inbox 3' }));
    await expectEventually(async () => expect(await subjects(id)).toEqual(['INBOX/inbox 1', 'Projects/project 1', 'INBOX/inbox 2', 'INBOX/inbox 3']), { timeoutMs: 10_000 });
    expect(t.srv.server.engine.supervisor?.owned()).toContain(id);
    // Created again: synced again, and no longer reported, without waiting for a reconnect either.
    await createFolder(t.dovecot, creds, 'Projects');
    await appendMessage(t.dovecot, creds, 'Projects', buildMessage({ subject: 'project 2' }));
    await expectEventually(async () => {
      expect(await subjects(id)).toContain('Projects/project 2');
      const a = (await t.srv.api(`/api/accounts/${id}`)).body.data;
      expect(a).toMatchObject({ connected: true, last_error: 'Sync folders missing on the IMAP server: Never' });
      expect(a.folders.find((f: { folder: string }) => f.folder === 'Projects')).toMatchObject({ last_error: null });
    }, { timeoutMs: 10_000, intervalMs: 250 });
    await expectStableSession(id);
  }, 60_000);

  it('a missing first sync folder: IDLE falls back to INBOX', async () => {
    const { creds, id } = await account(['Gone', 'INBOX']);
    await expectEventually(async () => expect(await subjects(id)).toEqual(['INBOX/inbox 1']), { timeoutMs: 15_000 });
    await expectStableSession(id);
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'inbox 2' }));
    await expectEventually(async () => expect(await subjects(id)).toEqual(['INBOX/inbox 1', 'INBOX/inbox 2']), { timeoutMs: 10_000 });
  }, 60_000);

  it('a folder the server refuses to open (\\Noselect: a parent of the hierarchy) is skipped and reported like a missing one', async () => {
    const { creds, id } = await account(['INBOX', 'Parent', 'Projects']);
    // Only Parent/Child is created: LIST then shows Parent as (\\HasChildren \\Noselect), and SELECT Parent answers NO.
    await createFolder(t.dovecot, creds, 'Parent/Child');
    await expectEventually(async () => expect(await subjects(id)).toEqual(['INBOX/inbox 1', 'Projects/project 1']), { timeoutMs: 15_000 });
    await expectEventually(async () => {
      const a = (await t.srv.api(`/api/accounts/${id}`)).body.data;
      expect(a).toMatchObject({ connected: true, last_error: expect.stringMatching(/^Sync folders the IMAP server refused to open: Parent \(.+\)$/) });
    }, { timeoutMs: 10_000, intervalMs: 250 });
    await expectStableSession(id);
    const one = await t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: { folder: 'Parent' } });
    expect(one.status).toBe(404);
    expect(one.body.error).toMatch(/refused to open the folder "Parent"/);
    await appendMessage(t.dovecot, creds, 'Projects', buildMessage({ subject: 'project 2' }));
    await expectEventually(async () => expect(await subjects(id)).toEqual(['INBOX/inbox 1', 'Projects/project 1', 'Projects/project 2']), { timeoutMs: 10_000 });
  }, 60_000);

  it('a message moved on the server between synced folders keeps its archived flag and categories', async () => {
    const { creds, id } = await account(['INBOX', 'Projects']);
    await expectEventually(async () => expect(await subjects(id)).toEqual(['INBOX/inbox 1', 'Projects/project 1']), { timeoutMs: 15_000 });
    const [email] = await sql<{ id: number }>(t.dbUrl, "SELECT id FROM emails WHERE account_id = $1 AND subject = 'inbox 1'", [id]);
    const [cat] = await sql<{ id: number }>(t.dbUrl, "INSERT INTO categories (name, slug, priority, created_at, updated_at) VALUES ('Filed', 'filed', 1, now(), now()) RETURNING id");
    const r = await t.srv.api(`/api/emails/${email!.id}`, { method: 'PATCH', json: { is_archived: true, categories: [cat!.id] } });
    expect(r.status, r.text).toBe(200);

    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageMove('1:*', 'Projects');
    });
    await expectEventually(async () => {
      const rows = await sql<{ folder: string; is_archived: boolean; categories: number[] }>(
        t.dbUrl,
        `SELECT folder, is_archived, ARRAY(SELECT category_id FROM email_categories c WHERE c.email_id = e.id) AS categories
         FROM emails e WHERE account_id = $1 AND subject = 'inbox 1'`,
        [id],
      );
      expect(rows).toEqual([{ folder: 'Projects', is_archived: true, categories: [cat!.id] }]);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await expectInSync(t.dbUrl, id, t.dovecot, creds, 'INBOX');
    await expectInSync(t.dbUrl, id, t.dovecot, creds, 'Projects');
  }, 60_000);
});

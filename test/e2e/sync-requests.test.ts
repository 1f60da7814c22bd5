/**
 * What a sync request (POST /api/accounts/{id}/sync) joins. A running pass answers a request only when it does all the
 * request asks; otherwise the request waits for it and runs its own. Before, any running pass answered: a request for
 * another folder, a full resync or a since_date got the other pass's counts, and what it asked for never ran.
 */
import { describe, expect, it } from 'vitest';
import { buildMessage, createFolder, toCrlf, withImap } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { fillMaildir } from '../support/maildir.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_ENABLED: 'false' });

async function account(folders: string[], inboxMessages: number) {
  const creds = await t.dovecot.createUser();
  for (const f of folders) if (f !== 'INBOX') await createFolder(t.dovecot, creds, f);
  await fillMaildir(t.dovecot.dir, creds.user, Array.from({ length: inboxMessages }, (_, i) => toCrlf(buildMessage({ subject: `inbox ${i}`, text: 'x'.repeat(2000) }))));
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Requests', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: false, sync_folders: folders },
  });
  expect(r.status, r.text).toBe(201);
  return { creds, id: r.body.data.id as number };
}

const sync = (id: number, json: Record<string, unknown>) => t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json });
const count = async (accountId: number, folder: string) =>
  Number((await sql<{ n: string }>(t.dbUrl, 'SELECT count(*) n FROM emails WHERE account_id = $1 AND folder = $2', [accountId, folder]))[0]!.n);

describe('a sync request while a pass runs', () => {
  it('for another folder: waits for it, then syncs its own folder', async () => {
    const { creds, id } = await account(['INBOX', 'Archive'], 1500);
    await withImap(t.dovecot, creds, async (c) => {
      for (let i = 0; i < 3; i++) await c.append('Archive', toCrlf(buildMessage({ subject: `archived ${i}` })));
    });
    const inbox = sync(id, { folder: 'INBOX' });
    await new Promise((r) => setTimeout(r, 300));
    const archive = await sync(id, { folder: 'Archive' });
    expect(archive.status, archive.text).toBe(200);
    expect(archive.body.data).toMatchObject({ new: 3 });
    expect(await count(id, 'Archive')).toBe(3);
    expect((await inbox).body.data).toMatchObject({ new: 1500 });
  }, 120_000);

  it('for a full resync with a since_date: runs its own pass, with its own counts', async () => {
    const { id } = await account(['INBOX'], 1500);
    const plain = sync(id, {});
    await new Promise((r) => setTimeout(r, 300));
    const later = await sync(id, { since_date: '2100-01-01', full_resync: true });
    expect(later.status, later.text).toBe(200);
    expect(later.body.data).toMatchObject({ new: 0 });
    expect((await plain).body.data).toMatchObject({ new: 1500 });
  }, 120_000);

  it('the same request, many times at once: one pass answers them all', async () => {
    const { id } = await account(['INBOX'], 300);
    const answers = await Promise.all(Array.from({ length: 10 }, () => sync(id, {})));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(answers.map((a) => a.body.data.new)).toEqual(answers.map(() => 300));
    expect(await count(id, 'INBOX')).toBe(300);
  }, 120_000);
});

describe('since_date', () => {
  it('never skips new mail dated before it: the cursor passed it, and no later pass would fetch it', async () => {
    // An old message moved or copied into the folder keeps its INTERNALDATE: it is new mail (above the cursor) with an
    // old date. A since_date pass left it out of its UID SEARCH and still moved the cursor past it.
    const { creds, id } = await account(['INBOX'], 2);
    expect((await sync(id, {})).body.data).toMatchObject({ new: 2 });
    const appendOld = (subject: string) =>
      withImap(t.dovecot, creds, (c) => c.append('INBOX', toCrlf(buildMessage({ subject })), [], new Date('2020-03-01T10:00:00Z')));
    await appendOld('moved in from an old folder');
    const since = await sync(id, { since_date: '2024-01-01' });
    expect(since.status, since.text).toBe(200);
    expect(since.body.data).toMatchObject({ new: 1 });
    await appendOld('another old one');
    const full = await sync(id, { since_date: '2024-01-01', full_resync: true });
    expect(full.body.data).toMatchObject({ new: 1 });
    expect((await sync(id, {})).body.data).toMatchObject({ new: 0 });
    expect(await count(id, 'INBOX')).toBe(4);
  }, 60_000);

  it('a pass with since_date that meets a UIDVALIDITY reset keeps the stored mail dated before it', async () => {
    const { creds, id } = await account(['INBOX', 'Archive'], 0);
    const dates = { 'from 2020': new Date('2020-03-01T10:00:00Z'), 'from 2025': new Date('2025-03-01T10:00:00Z') };
    await withImap(t.dovecot, creds, async (c) => {
      for (const [subject, date] of Object.entries(dates)) await c.append('Archive', toCrlf(buildMessage({ subject })), [], date);
    });
    expect((await sync(id, {})).body.data).toMatchObject({ new: 2 });
    const stored = await sql<{ id: number; subject: string }>(t.dbUrl, "SELECT id, subject FROM emails WHERE account_id = $1 AND folder = 'Archive' ORDER BY subject", [id]);
    // The folder is recreated with the same messages (and dates): a new UIDVALIDITY.
    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('Archive');
      const sources = (await c.fetchAll('1:*', { source: true, internalDate: true })).map((m) => ({ source: m.source!, date: m.internalDate! }));
      await c.mailboxClose();
      await c.mailboxDelete('Archive');
      await c.mailboxCreate('Archive');
      for (const m of sources) await c.append('Archive', m.source, [], m.date);
      // Messages never stored: since_date still narrows them, as in a first sync.
      await c.append('Archive', toCrlf(buildMessage({ subject: 'unknown from 2019' })), [], new Date('2019-03-01T10:00:00Z'));
      await c.append('Archive', toCrlf(buildMessage({ subject: 'unknown from 2026' })), [], new Date('2026-03-01T10:00:00Z'));
    });
    const since = await sync(id, { since_date: '2024-01-01' });
    expect(since.status, since.text).toBe(200);
    expect(since.body.data).toMatchObject({ new: 1, deleted: 0 });
    // Both stored messages are still on the server: the reset matches both stored emails again, whatever their date.
    const after = await sql<{ id: number; subject: string }>(t.dbUrl, "SELECT id, subject FROM emails WHERE account_id = $1 AND folder = 'Archive' ORDER BY subject", [id]);
    expect(after.filter((e) => e.subject !== 'unknown from 2026')).toEqual(stored);
    expect(after.map((e) => e.subject)).toEqual(['from 2020', 'from 2025', 'unknown from 2026']);
    expect((await sync(id, {})).body.data).toMatchObject({ new: 0, deleted: 0 });
    expect(await count(id, 'Archive')).toBe(3);
  }, 60_000);
});

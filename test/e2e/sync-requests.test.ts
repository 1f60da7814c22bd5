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
});

/**
 * Messages moved on the server (IMAP MOVE by another client) between synced folders keep their email: the archived
 * flag and hand-assigned categories survive, and the move is announced as `email.moved`, never as `email.received`
 * again. Passes are triggered folder by folder (no supervisor) to fix the order in which the sync sees the two halves.
 */
import { describe, expect, it } from 'vitest';
import { appendMessage, buildMessage, createFolder, toCrlf, withImap } from '../support/imap.js';
import { useMailEnv, type MailCreds } from '../support/mail-account.js';
import { expectInSync, sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_ENABLED: 'false' });

/** A synced account whose folders hold these messages (a subject, or a whole message). */
async function account(folders: Record<string, (string | { raw: string })[]>) {
  const creds = await t.dovecot.createUser();
  for (const folder of Object.keys(folders)) if (folder !== 'INBOX') await createFolder(t.dovecot, creds, folder);
  await withImap(t.dovecot, creds, async (c) => {
    for (const [folder, messages] of Object.entries(folders)) {
      for (const m of messages) await c.append(folder, toCrlf(typeof m === 'string' ? buildMessage({ subject: m }) : m.raw));
    }
  });
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: {
      name: 'Moves', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user,
      password: creds.password, encryption: 'none', is_active: true, sync_folders: Object.keys(folders),
    },
  });
  expect(r.status, r.text).toBe(201);
  const id = r.body.data.id as number;
  await sync(id);
  return { creds, id };
}

async function sync(accountId: number, folder?: string) {
  const r = await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: folder ? { folder } : {} });
  expect(r.status, r.text).toBe(200);
  return r.body.data as { new: number; updated: number; deleted: number };
}

/** MOVE on the server, as a mail client does it. */
async function moveOnServer(creds: MailCreds, from: string, subject: string, to: string): Promise<void> {
  await withImap(t.dovecot, creds, async (c) => {
    await c.mailboxOpen(from);
    const uids = await c.search({ subject }, { uid: true });
    expect(uids).toHaveLength(1);
    await c.messageMove(String((uids as number[])[0]), to, { uid: true });
  });
}

const emailOf = async (accountId: number, subject: string) =>
  sql<{ id: number; folder: string; is_archived: boolean }>(t.dbUrl, 'SELECT id, folder, is_archived FROM emails WHERE account_id = $1 AND subject = $2', [accountId, subject]);

const eventsOf = async (accountId: number, type: string) =>
  (await sql<{ payload: Record<string, unknown> }>(t.dbUrl, 'SELECT payload FROM events WHERE account_id = $1 AND type = $2 ORDER BY seq', [accountId, type])).map((e) => e.payload);

async function category(name: string): Promise<number> {
  const [row] = await sql<{ id: number }>(
    t.dbUrl,
    `INSERT INTO categories (name, slug, priority, created_at, updated_at) VALUES ($1, $1, 1, now(), now()) RETURNING id`,
    [name],
  );
  return row!.id;
}

/** Archives the email and gives it `categoryId` by hand, through the API. */
async function markUp(emailId: number, categoryId: number): Promise<void> {
  const r = await t.srv.api(`/api/emails/${emailId}`, { method: 'PATCH', json: { is_archived: true, categories: [categoryId] } });
  expect(r.status, r.text).toBe(200);
}

describe('messages moved on the server', () => {
  it('source folder synced first: the email comes back under its id with its state, as email.moved', async () => {
    const files = [
      { filename: 'a.txt', contentType: 'text/plain', content: Buffer.from('first file') },
      { filename: 'b.bin', contentType: 'application/octet-stream', content: Buffer.alloc(3000, 7) },
    ];
    const { creds, id } = await account({ INBOX: [{ raw: buildMessage({ subject: 'filed', attachments: files }) }, 'stays'], Archive: ['old'] });
    const [before] = await emailOf(id, 'filed');
    const attachmentIds = async () =>
      (await sql<{ id: number }>(t.dbUrl, 'SELECT id FROM attachments WHERE email_id = $1 ORDER BY id', [before!.id])).map((a) => a.id);
    const attachmentsBefore = await attachmentIds();
    expect(attachmentsBefore).toHaveLength(2);
    const cat = await category('moved-first');
    await markUp(before!.id, cat);

    await moveOnServer(creds, 'INBOX', 'filed', 'Archive');
    expect(await sync(id, 'INBOX')).toMatchObject({ deleted: 1 });
    expect(await emailOf(id, 'filed')).toEqual([]);
    expect(await sync(id, 'Archive')).toMatchObject({ new: 0, updated: 1 });

    expect(await emailOf(id, 'filed')).toEqual([{ id: before!.id, folder: 'Archive', is_archived: true }]);
    // Its attachments keep their ids: a download URL handed out before the move still works.
    expect(await attachmentIds()).toEqual(attachmentsBefore);
    const download = await t.srv.api(`/api/attachments/${attachmentsBefore[0]}/download`);
    expect(download.status).toBe(200);
    expect(download.text).toBe('first file');
    await expectInSync(t.dbUrl, id, t.dovecot, creds, 'INBOX');
    await expectInSync(t.dbUrl, id, t.dovecot, creds, 'Archive');
    // (Reading it marks it read, a flag change queued for the server: checked after the comparison with the server.)
    const api = await t.srv.api(`/api/emails/${before!.id}`);
    expect(api.body.data).toMatchObject({ folder: 'Archive', is_archived: true, categories: [expect.objectContaining({ id: cat })] });
    expect(await eventsOf(id, 'email.received')).toHaveLength(3);
    expect(await eventsOf(id, 'email.moved')).toEqual([
      { emailId: before!.id, accountId: id, folder: 'Archive', fromFolder: 'INBOX', messageId: expect.any(String) },
    ]);
    expect(await sql(t.dbUrl, 'SELECT 1 FROM email_departures WHERE account_id = $1', [id])).toEqual([]);

    // And back: the same id again, on a pass of both folders.
    await moveOnServer(creds, 'Archive', 'filed', 'INBOX');
    await sync(id, 'Archive');
    await sync(id, 'INBOX');
    expect(await emailOf(id, 'filed')).toEqual([{ id: before!.id, folder: 'INBOX', is_archived: true }]);
    expect(await eventsOf(id, 'email.received')).toHaveLength(3);
    expect(await eventsOf(id, 'email.moved')).toHaveLength(2);
  }, 60_000);

  it('destination synced first: the new copy receives the departing email\'s state', async () => {
    const { creds, id } = await account({ INBOX: ['incoming'], Archive: ['filed'] });
    const [before] = await emailOf(id, 'filed');
    const cat = await category('moved-second');
    await markUp(before!.id, cat);

    await moveOnServer(creds, 'Archive', 'filed', 'INBOX');
    expect(await sync(id, 'INBOX')).toMatchObject({ new: 1 });
    expect(await sync(id, 'Archive')).toMatchObject({ deleted: 1 });

    const [after] = await emailOf(id, 'filed');
    expect(after).toMatchObject({ folder: 'INBOX', is_archived: true });
    const api = await t.srv.api(`/api/emails/${after!.id}`);
    expect(api.body.data.categories).toEqual([expect.objectContaining({ id: cat })]);
    const updated = await eventsOf(id, 'email.updated');
    expect(updated.find((e) => e.emailId === after!.id && 'isArchived' in (e.changes as object))).toMatchObject({
      folder: 'INBOX', changes: { isArchived: true, categories: [cat] },
    });
    expect(await sql(t.dbUrl, 'SELECT 1 FROM email_departures WHERE account_id = $1', [id])).toEqual([]);
  }, 60_000);

  it('a message expunged and appended again is the same email within the move window, a new one after it', async () => {
    const { creds, id } = await account({ INBOX: ['gone'] });
    const [before] = await emailOf(id, 'gone');
    const expungeOnServer = () =>
      withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('INBOX');
        const msg = await c.fetchOne('1', { source: true });
        await c.messageDelete('1');
        return (msg as { source: Buffer }).source;
      });
    const source = await expungeOnServer();
    await sync(id);
    expect(await emailOf(id, 'gone')).toEqual([]);
    expect(await eventsOf(id, 'email.deleted')).toEqual([expect.objectContaining({ emailId: before!.id, folder: 'INBOX' })]);
    expect(await sql(t.dbUrl, 'SELECT email_id FROM email_departures WHERE account_id = $1', [id])).toEqual([{ email_id: before!.id }]);

    // Restored into the mailbox (a client's undo): the same email.
    await appendMessage(t.dovecot, creds, 'INBOX', source);
    await sync(id);
    expect((await emailOf(id, 'gone')).map((e) => e.id)).toEqual([before!.id]);
    expect(await eventsOf(id, 'email.received')).toHaveLength(1);

    // Expunged again, and back only after SYNC_MOVE_WINDOW_MS (7 days by default): new mail.
    await expungeOnServer();
    await sync(id);
    await sql(t.dbUrl, `UPDATE email_departures SET departed_at = now() - interval '8 days' WHERE account_id = $1`, [id]);
    await appendMessage(t.dovecot, creds, 'INBOX', source);
    await sync(id);
    const [again] = await emailOf(id, 'gone');
    expect(again!.id).not.toBe(before!.id);
    expect((await eventsOf(id, 'email.received')).map((e) => e.emailId)).toEqual([before!.id, again!.id]);
  }, 60_000);

  it('out and back into its folder between two passes: the copy receives the state; identical copies stored together do not', async () => {
    const raw = buildMessage({ subject: 'twin' });
    const { creds, id } = await account({ INBOX: ['round trip', { raw }, { raw }], Archive: [] });
    const [before] = await emailOf(id, 'round trip');
    const cat = await category('round-trip');
    await markUp(before!.id, cat);
    await moveOnServer(creds, 'INBOX', 'round trip', 'Archive');
    await moveOnServer(creds, 'Archive', 'round trip', 'INBOX');
    // One pass sees both halves: it stores the new UID before it looks for expunges.
    expect(await sync(id, 'INBOX')).toMatchObject({ new: 1, deleted: 1 });
    const [after] = await emailOf(id, 'round trip');
    expect(after).toMatchObject({ folder: 'INBOX', is_archived: true });
    expect((await t.srv.api(`/api/emails/${after!.id}`)).body.data.categories).toEqual([expect.objectContaining({ id: cat })]);
    expect(await sql(t.dbUrl, 'SELECT 1 FROM email_departures WHERE account_id = $1', [id])).toEqual([]);

    // Of two identical copies stored together, the one archived and then expunged gives nothing to the other.
    const twins = await sql<{ id: number }>(t.dbUrl, `SELECT id FROM emails WHERE account_id = $1 AND subject = 'twin' ORDER BY uid`, [id]);
    await sql(t.dbUrl, 'UPDATE emails SET is_archived = true WHERE id = $1', [twins[0]!.id]);
    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      const [first] = (await c.search({ subject: 'twin' }, { uid: true })) as number[];
      await c.messageDelete(String(first), { uid: true });
    });
    expect(await sync(id, 'INBOX')).toMatchObject({ deleted: 1 });
    expect(await emailOf(id, 'twin')).toEqual([expect.objectContaining({ id: twins[1]!.id, is_archived: false })]);
  }, 60_000);

  it('a bulk move keeps every id, and identical copies are matched one to one', async () => {
    const twin = { raw: buildMessage({ subject: 'twin' }) };
    const subjects = Array.from({ length: 240 }, (_, i) => `bulk ${i}`);
    const { creds, id } = await account({ INBOX: [...subjects, twin, twin], Archive: [] });
    const idsBefore = await sql<{ id: number; subject: string }>(t.dbUrl, 'SELECT id, subject FROM emails WHERE account_id = $1 ORDER BY id', [id]);
    expect(idsBefore).toHaveLength(242);

    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageMove('1:*', 'Archive');
    });
    expect(await sync(id, 'INBOX')).toMatchObject({ deleted: 242 });
    expect(await sync(id, 'Archive')).toMatchObject({ new: 0, updated: 242 });

    const after = await sql<{ id: number; subject: string; folder: string }>(t.dbUrl, 'SELECT id, subject, folder FROM emails WHERE account_id = $1 ORDER BY id', [id]);
    expect(after.map(({ id: e, subject }) => ({ id: e, subject }))).toEqual(idsBefore);
    expect(new Set(after.map((e) => e.folder))).toEqual(new Set(['Archive']));
    await expectInSync(t.dbUrl, id, t.dovecot, creds, 'Archive');
    expect(await eventsOf(id, 'email.moved')).toHaveLength(242);
    expect(await eventsOf(id, 'email.received')).toHaveLength(242);
  }, 60_000);
});

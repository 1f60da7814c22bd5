/** The IMAP sync engine end to end: a private Dovecot mailbox → PostgreSQL, through the API. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDovecotUser, runDoveadm } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, createFolder, withImap } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

const dovecot = inject('dovecot');
let db: TestDatabase;
let srv: TestServer;

async function newMailbox() {
  const creds = await createDovecotUser(dovecot.dir);
  await createFolder(dovecot, creds, 'Archive');
  return creds;
}

async function createAccount(creds: { user: string; password: string }, extra: Record<string, unknown> = {}): Promise<number> {
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Sync test', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', ...extra },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as number;
}

async function syncNow(id: number, body: Record<string, unknown> = {}) {
  const r = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: body });
  expect(r.status, r.text).toBe(200);
  return r.body.data as { new: number; updated: number; deleted: number; failed: number; duration_ms: number };
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '2000', SYNC_LEASE_TTL_MS: '3000' });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('on-demand sync (POST /api/accounts/{id}/sync)', () => {
  it('first sync stores every message with every field; a second sync adds only new mail', async () => {
    const mb = await newMailbox();
    for (let i = 0; i < 5; i++) {
      await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: `Hello ${i}`, text: `Body ${i} café`, from: 'Jöhn Doe <john@example.com>', cc: 'cc@example.com' }), i % 2 ? ['\\Seen'] : []);
    }
    await appendMessage(dovecot, mb, 'Archive', buildMessage({ subject: 'Archived', attachments: [{ filename: 'report.pdf', contentType: 'application/pdf', content: Buffer.alloc(30_000, 7) }] }), ['\\Flagged']);
    const id = await createAccount(mb, { sync_folders: ['INBOX', 'Archive'] });
    const first = await syncNow(id);
    expect(first).toMatchObject({ new: 6, deleted: 0, failed: 0 });
    expect(first.duration_ms).toBeGreaterThanOrEqual(0);
    await expectInSync(db.url, id, dovecot, mb, 'INBOX');
    await expectInSync(db.url, id, dovecot, mb, 'Archive');
    const [row] = await sql<Record<string, any>>(db.url, "SELECT * FROM emails WHERE account_id = $1 AND subject = 'Hello 0'", [id]);
    expect(row).toMatchObject({ from_address: 'john@example.com', from_name: 'Jöhn Doe', folder: 'INBOX', is_read: false, is_starred: false, has_attachments: false });
    expect(row!.body_text).toContain('Body 0 café');
    expect(row!.to_addresses).toEqual([{ email: 'bob@example.com', name: 'Bob Receiver' }]);
    expect(row!.cc_addresses).toEqual([{ email: 'cc@example.com', name: '' }]);
    expect(row!.headers).toHaveProperty('Subject');
    expect(row!.message_id).toBeTruthy();
    expect(row!.thread_id).toBeTruthy();
    const [archived] = await sql<Record<string, any>>(db.url, "SELECT * FROM emails WHERE account_id = $1 AND subject = 'Archived'", [id]);
    expect(archived).toMatchObject({ is_starred: true, has_attachments: true, attachment_count: 1 });
    const atts = await sql<Record<string, any>>(db.url, 'SELECT * FROM attachments WHERE email_id = $1', [archived!.id]);
    expect(atts).toMatchObject([{ filename: 'report.pdf', mime_type: 'application/pdf', file_size: 30_000, is_inline: false }]);
    expect(await receivedEvents(db.url, id)).toBe(6);

    const stats = await srv.api(`/api/accounts/${id}/stats`);
    expect(stats.body.data).toMatchObject({ total_emails: 6, unread_emails: 4, with_attachments: 1 });
    expect(stats.body.data.by_folder).toEqual([{ folder: 'INBOX', count: 5 }, { folder: 'Archive', count: 1 }]);

    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'Later' }));
    expect(await syncNow(id)).toMatchObject({ new: 1, updated: 0, deleted: 0 });
    expect(await syncNow(id)).toMatchObject({ new: 0, updated: 0, deleted: 0 });
    await expectInSync(db.url, id, dovecot, mb, 'INBOX');
    expect(await receivedEvents(db.url, id)).toBe(7);
    const account = await srv.api(`/api/accounts/${id}`);
    expect(account.body.data.last_sync_at).toBeTruthy();
  });

  it('flag changes and expunges on the server are reflected', async () => {
    const mb = await newMailbox();
    for (let i = 0; i < 4; i++) await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: `m${i}` }));
    const id = await createAccount(mb);
    await syncNow(id);
    await withImap(dovecot, mb, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd('1', ['\\Seen', '\\Flagged']);
      await c.messageDelete('3');
    });
    const r = await syncNow(id);
    expect(r).toMatchObject({ new: 0, updated: 1, deleted: 1 });
    await expectInSync(db.url, id, dovecot, mb, 'INBOX');
    const [m0] = await sql<Record<string, any>>(db.url, "SELECT is_read, is_starred, read_at FROM emails WHERE account_id = $1 AND subject = 'm0'", [id]);
    expect(m0).toMatchObject({ is_read: true, is_starred: true });
    const deleted = await sql(db.url, "SELECT 1 FROM events WHERE account_id = $1 AND type = 'email.deleted'", [id]);
    expect(deleted).toHaveLength(1);
  });

  it('UIDVALIDITY reset: no duplicates, local state kept, no new email.received', async () => {
    const mb = await newMailbox();
    for (let i = 0; i < 3; i++) await appendMessage(dovecot, mb, 'Archive', buildMessage({ subject: `keep ${i}` }));
    const id = await createAccount(mb, { sync_folders: ['Archive'] });
    await syncNow(id);
    await sql(db.url, "UPDATE emails SET is_archived = true WHERE account_id = $1 AND subject = 'keep 1'", [id]);
    const before = await receivedEvents(db.url, id);
    // Recreate the mailbox (new UIDVALIDITY) with two of the three messages and one new one.
    const sources = await withImap(dovecot, mb, async (c) => {
      await c.mailboxOpen('Archive');
      return (await c.fetchAll('1:*', { uid: true, source: true })).map((m) => m.source!);
    });
    await withImap(dovecot, mb, async (c) => {
      await c.mailboxDelete('Archive');
      await c.mailboxCreate('Archive');
    });
    await appendMessage(dovecot, mb, 'Archive', sources[0]!);
    await appendMessage(dovecot, mb, 'Archive', sources[1]!);
    await appendMessage(dovecot, mb, 'Archive', buildMessage({ subject: 'fresh' }));
    const r = await syncNow(id);
    expect(r).toMatchObject({ new: 1, updated: 2, deleted: 1 });
    await expectInSync(db.url, id, dovecot, mb, 'Archive');
    const kept = await sql<{ is_archived: boolean }>(db.url, "SELECT is_archived FROM emails WHERE account_id = $1 AND subject = 'keep 1'", [id]);
    expect(kept).toEqual([{ is_archived: true }]);
    expect(await receivedEvents(db.url, id)).toBe(before + 1);
  });

  it('UIDVALIDITY reset: identical copies are matched one to one, odd or missing Message-IDs too; the server’s flags win', async () => {
    const mb = await newMailbox();
    const twin = buildMessage({ subject: 'twin' });
    const anonymous = buildMessage({ subject: 'no id', headers: { 'X-Seq': '1' } }).replace(/^Message-ID: .*\r\n/m, '');
    // Read on the server's header exactly as at ingest: a comment before the id, a folded line.
    const commented = buildMessage({ subject: 'commented id' }).replace(/^Message-ID: .*\r\n/m, 'Message-ID: (relay) <c-1@example.com>\r\n');
    const folded = buildMessage({ subject: 'folded id' }).replace(/^Message-ID: .*\r\n/m, 'Message-ID:\r\n <f-1@example.com>\r\n');
    const originals = [twin, twin, anonymous, commented, folded, ...Array.from({ length: 30 }, (_, i) => buildMessage({ subject: `bulk ${i}` }))];
    await withImap(dovecot, mb, async (c) => {
      for (const raw of originals) await c.append('Archive', raw);
    });
    const id = await createAccount(mb, { sync_folders: ['Archive'] });
    await syncNow(id);
    const rows = () => sql<{ id: number; subject: string; message_id: string | null; is_read: boolean }>(
      db.url, 'SELECT id, subject, message_id, is_read FROM emails WHERE account_id = $1 ORDER BY id', [id]);
    const before = await rows();
    expect(before).toHaveLength(35);
    expect(before.find((e) => e.subject === 'no id')?.message_id).toBeNull();
    expect(before.find((e) => e.subject === 'commented id')?.message_id).toBe('c-1@example.com');

    await withImap(dovecot, mb, async (c) => {
      await c.mailboxDelete('Archive');
      await c.mailboxCreate('Archive');
      // Appended again, one twin only, everything read.
      for (const raw of originals.slice(1)) await c.append('Archive', raw, ['\\Seen']);
    });
    expect(await syncNow(id)).toMatchObject({ new: 0, updated: 34, deleted: 1 });
    await expectInSync(db.url, id, dovecot, mb, 'Archive');
    const after = await rows();
    // The twin left is the first copy: it keeps the first row; the second row goes.
    expect(before.slice(0, 2).map((e) => e.subject)).toEqual(['twin', 'twin']);
    expect(after.map((e) => e.id)).toEqual(before.filter((_, i) => i !== 1).map((e) => e.id));
    expect(after.every((e) => e.is_read)).toBe(true);
  });

  it('a corrupt message does not stop the sync', async () => {
    const mb = await newMailbox();
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'before' }));
    const broken = Buffer.from(
      'From: "Broken\r\nSubject: =?x-unknown?B?////?=\r\nContent-Type: multipart/mixed; boundary="never"\r\nMIME-Version: 1.0\r\n\r\n--wrong\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\n\xff\xfe garbage\r\n',
      'latin1',
    );
    await appendMessage(dovecot, mb, 'INBOX', broken);
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'after' }));
    const id = await createAccount(mb);
    expect(await syncNow(id)).toMatchObject({ new: 3, failed: 0 });
    await expectInSync(db.url, id, dovecot, mb, 'INBOX');
  });

  it('since_date limits the first sync; validation errors are 400s', async () => {
    const mb = await newMailbox();
    const id = await createAccount(mb);
    expect((await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: { since_date: '2024-13-01' } })).status).toBe(400);
    expect((await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: { folder: 'Nope' } })).status).toBe(400);
    expect((await srv.api(`/api/accounts/${id}/sync?folder=Nope`, { method: 'POST' })).status).toBe(400);
    expect((await srv.api('/api/accounts/999999/sync', { method: 'POST' })).status).toBe(404);
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'new' }));
    expect(await syncNow(id, { since_date: '2000-01-01', full_resync: true })).toMatchObject({ new: 1 });
    // Dates the IMAP server refuses in SEARCH SINCE (years before ~1900) restrict nothing: no 502.
    for (const since of ['0001-01-01', '1000-01-01', '1969-12-31']) {
      expect(await syncNow(id, { since_date: since, full_resync: true })).toMatchObject({ new: 0, failed: 0 });
    }
  });

  it('wrong credentials: 502 with the reason, account status records it', async () => {
    const mb = await newMailbox();
    const id = await createAccount({ ...mb, password: 'wrong' });
    const r = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST' });
    expect(r.status).toBe(502);
    expect(r.body.error).toContain('Authentication failed');
    const a = await srv.api(`/api/accounts/${id}`);
    expect(a.body.data).toMatchObject({ connected: false, last_error: expect.stringContaining('Authentication failed') });
  });
});

describe('live sync (is_active accounts)', () => {
  it('IDLE delivers a new message into the database within seconds; the account shows connected', async () => {
    const mb = await newMailbox();
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'existing' }));
    const id = await createAccount(mb, { is_active: true });
    await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBe(1), { timeoutMs: 15_000 });
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'pushed' }));
    await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBe(2), { timeoutMs: 10_000 });
    await withImap(dovecot, mb, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd('1', ['\\Seen']);
    });
    await expectEventually(async () => expectInSync(db.url, id, dovecot, mb, 'INBOX'), { timeoutMs: 10_000 });
    const a = await srv.api(`/api/accounts/${id}`);
    expect(a.body.data.connected).toBe(true);
    // Deactivating stops the session.
    await srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { is_active: false } });
    await expectEventually(async () => {
      const who = await runDoveadm(dovecot.configPath, ['who', mb.user]).catch(() => '');
      expect(who).not.toContain(mb.user);
    }, { timeoutMs: 10_000 });
  });
});

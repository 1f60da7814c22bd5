/**
 * Thread linking with real-world mail, delivered into a private Dovecot and synced: replies before their parent,
 * References naming what In-Reply-To does not, free-text fields.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDovecotUser } from '../support/dovecot.js';
import { buildMessage, createFolder, withImap } from '../support/imap.js';
import { createAccount, day, putMail, syncAccount } from '../support/mailbox-fixture.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

const dovecot = inject('dovecot');
let db: TestDatabase;
let srv: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

/** thread_id by subject, for the emails of one account. */
async function threadBySubject(accountId: number): Promise<Record<string, number>> {
  const rows = await sql<{ subject: string; thread_id: number }>(db.url, 'SELECT subject, thread_id FROM emails WHERE account_id = $1', [accountId]);
  return Object.fromEntries(rows.map((r) => [r.subject, r.thread_id]));
}

describe('thread linking', () => {
  it('a stored reply that names a new message only in References joins its thread', async () => {
    // The user's own reply (b) is in Sent, which is not synced: the answer to it names the root only in References.
    const mb = await createDovecotUser(dovecot.dir);
    await createFolder(dovecot, mb, 'Archive');
    const answer = { 'In-Reply-To': '<b@plan.test>', References: '<a@plan.test> <b@plan.test>' };
    await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: 'Re: Re: Plan', messageId: '<c@plan.test>', headers: answer }), day('2024-01-03T00:00:00'));
    const id = await createAccount(srv, dovecot, mb, ['INBOX', 'Archive']);
    await syncAccount(srv, id);
    // The root turns up later (filed into Archive by another client).
    await putMail(dovecot, mb, 'Archive', buildMessage({ subject: 'Plan', messageId: '<a@plan.test>' }), day('2024-01-01T00:00:00'));
    await syncAccount(srv, id);
    const t = await threadBySubject(id);
    expect(t['Plan']).toBe(t['Re: Re: Plan']);
    const threads = await srv.api(`/api/threads?account_id=${id}`);
    expect(threads.body.data).toEqual([expect.objectContaining({ id: t['Plan'], message_count: 2, last_message_at: '2024-01-03T00:00:00Z' })]);
  });

  it('free-text In-Reply-To and References do not link unrelated messages', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    const put = (subject: string, headers: Record<string, string>) => putMail(dovecot, mb, 'INBOX', buildMessage({ subject, headers }), day('2024-01-01T00:00:00'));
    await put('One', { 'In-Reply-To': 'Your message of Mon, 1 Jan 2024' });
    await put('Two', { 'In-Reply-To': 'Your message of Tue, 2 Jan 2024' });
    await put('Three', { References: 'none' });
    await put('Four', { References: 'none' });
    const id = await createAccount(srv, dovecot, mb, ['INBOX']);
    await syncAccount(srv, id);
    expect(new Set(Object.values(await threadBySubject(id))).size).toBe(4);
  });

  it('a conversation moved on the server into another synced folder keeps its thread ids', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    await createFolder(dovecot, mb, 'Archive');
    await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: 'Solo', messageId: '<solo@move.test>' }), day('2024-01-01T00:00:00'));
    await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: 'Pair', messageId: '<p1@move.test>' }), day('2024-01-01T00:00:00'));
    await putMail(dovecot, mb, 'INBOX', buildMessage({ subject: 'Re: Pair', headers: { 'In-Reply-To': '<p1@move.test>' } }), day('2024-01-02T00:00:00'));
    const id = await createAccount(srv, dovecot, mb, ['INBOX', 'Archive']);
    await syncAccount(srv, id);
    const before = await threadBySubject(id);
    // Another client files everything into Archive: INBOX (synced first) sees the expunges, Archive the arrivals.
    await withImap(dovecot, mb, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageMove('1:*', 'Archive');
    });
    const r = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
    expect(r.body.data).toMatchObject({ new: 0, updated: 3, deleted: 3 });
    expect(await threadBySubject(id)).toEqual(before);
    const pair = await srv.api(`/api/threads/${before['Pair']}`);
    expect(pair.status, pair.text).toBe(200);
    expect(pair.body.data).toMatchObject({ message_count: 2, last_message_at: '2024-01-02T00:00:00Z' });
    expect(pair.body.data.emails.map((e: { folder: string }) => e.folder)).toEqual(['Archive', 'Archive']);
    expect((await srv.api(`/api/threads/${before['Solo']}`)).status).toBe(200);
    expect(await sql(db.url, 'SELECT id FROM threads WHERE account_id = $1 AND message_count = 0', [id])).toEqual([]);
  });
});

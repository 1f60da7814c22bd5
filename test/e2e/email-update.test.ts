/**
 * PATCH /api/emails/{id} (flags and categories), the implicit read of GET /api/emails/{id}, and the GraphQL
 * updateEmail / openEmail mutations behind them — end to end, with the server-side flags read by a second IMAP client.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { scopedKey, serverFlags, syncedAccount, useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';

let categories: number[];
const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000' }, async (env) => {
  const rows = await sql<{ id: number }>(
    env.dbUrl,
    `INSERT INTO categories (name, slug, priority, created_at, updated_at) VALUES ('Invoices', 'invoices', 2, now(), now()), ('Support', 'support', 1, now(), now()) RETURNING id`,
  );
  categories = rows.map((r) => r.id);
});

const patch = (id: number, json: unknown) => t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json });

describe('PATCH /api/emails/{id}', () => {
  it('sets is_read / is_starred locally at once and on the server, archive stays local, returns the full email', async () => {
    const { creds, ids } = await syncedAccount(t, ['patched']);
    const id = ids.get('patched')!;
    const r = await patch(id, { is_read: true, is_starred: true, is_archived: true });
    expect(r.status, r.text).toBe(200);
    expect(r.body.success).toBe(true);
    expect(r.body.data).toMatchObject({ id, subject: 'patched', is_read: true, is_starred: true, is_archived: true, categories: [] });
    expect(r.body.data.read_at).not.toBeNull();
    expect(r.body.data).toHaveProperty('body_text');
    expect(r.body.data).toHaveProperty('attachments');
    await expectEventually(async () => expect(await serverFlags(t.dovecot, creds, 'INBOX', 'patched')).toEqual(['\\Flagged', '\\Seen']), { timeoutMs: 10_000, intervalMs: 100 });

    const back = await patch(id, { is_read: 0, is_starred: false });
    expect(back.status, back.text).toBe(200);
    expect(back.body.data).toMatchObject({ is_read: false, is_starred: false, is_archived: true, read_at: null });
    await expectEventually(async () => expect(await serverFlags(t.dovecot, creds, 'INBOX', 'patched')).toEqual([]), { timeoutMs: 10_000, intervalMs: 100 });

    // Parameters in the query string (as some legacy clients send them) count too; the body wins.
    const query = await t.srv.api(`/api/emails/${id}?is_starred=1&is_archived=1&unrelated=x`, { method: 'PATCH', json: { is_archived: false } });
    expect(query.status, query.text).toBe(200);
    expect(query.body.data).toMatchObject({ is_starred: true, is_archived: false });
    expect((await t.srv.api(`/api/emails/${id}?is_read=maybe`, { method: 'PATCH' })).status).toBe(400);
  }, 60_000);

  it('list parameters in the query string: ?ids=1,2 or ?ids=1 for bulk, ?categories=1 for PATCH (a single id was a 400)', async () => {
    const { ids } = await syncedAccount(t, ['q1', 'q2']);
    const [a, b] = [ids.get('q1')!, ids.get('q2')!];
    const both = await t.srv.api(`/api/emails/bulk?ids=${a},${b}&action=star`, { method: 'POST' });
    expect(both.status, both.text).toBe(200);
    expect(both.body.meta).toEqual({ total: 2, succeeded: 2, failed: 0 });
    const one = await t.srv.api(`/api/emails/bulk?ids=${a}&action=unstar`, { method: 'POST' });
    expect(one.status, one.text).toBe(200);
    expect(one.body.data).toEqual([{ id: a, success: true, error: null }]);
    expect((await t.srv.api(`/api/emails/${a}`, { method: 'HEAD' })).status).toBe(200);
    expect((await t.srv.api(`/api/emails/bulk?ids=${a},x&action=star`, { method: 'POST' })).status).toBe(400);
    // In the body, ids stays an array (a string there is a 400, as documented).
    expect((await t.srv.api('/api/emails/bulk', { method: 'POST', json: { ids: String(a), action: 'star' } })).status).toBe(400);
    const [invoices] = categories as [number];
    const patched = await t.srv.api(`/api/emails/${b}?categories=${invoices}`, { method: 'PATCH' });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.data.categories.map((c: { id: number }) => c.id)).toEqual([invoices]);
  });

  it('replaces the manual categories; rule-assigned ones stay; unknown category ids are a 400 naming them', async () => {
    const { ids } = await syncedAccount(t, ['categorized']);
    const id = ids.get('categorized')!;
    const [invoices, support] = categories as [number, number];
    const r = await patch(id, { categories: [support, invoices, invoices] });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data.categories.map((c: { slug: string }) => c.slug)).toEqual(['invoices', 'support']);
    expect(r.body.data.categories[0]).toEqual({ id: invoices, name: 'Invoices', slug: 'invoices', color: null });

    await sql(t.db.url, `UPDATE email_categories SET assigned_by = 'rule' WHERE email_id = $1 AND category_id = $2`, [id, support]);
    const cleared = await patch(id, { categories: [] });
    expect(cleared.body.data.categories.map((c: { slug: string }) => c.slug)).toEqual(['support']);

    const unknown = await patch(id, { categories: [invoices, 999999] });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ success: false, error: 'categories: unknown category id(s) 999999' });
    expect((await t.srv.api(`/api/emails/${id}`)).body.data.categories.map((c: { slug: string }) => c.slug)).toEqual(['support']);
  }, 60_000);

  it('bad input is a 400 naming the field; unknown or out-of-scope ids are 404; a read-only key gets 403', async () => {
    const { accountId, ids } = await syncedAccount(t, ['guarded']);
    const id = ids.get('guarded')!;
    for (const [json, field] of [
      [{ is_read: 'yes' }, 'is_read'],
      [{ is_starred: 2 }, 'is_starred'],
      [{ categories: 'invoices' }, 'categories'],
      [{ categories: [0] }, 'categories'],
      [{ is_raed: true }, 'is_raed'],
    ] as const) {
      const r = await patch(id, json);
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(r.body.success).toBe(false);
      expect(r.body.error).toContain(field);
    }
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', body: '[1]', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await patch(999999, { is_read: true })).status).toBe(404);
    expect((await patch(0, { is_read: true })).status).toBe(400);
    const other = await syncedAccount(t, ['elsewhere']);
    const scoped = await scopedKey(t.srv, ['read', 'write'], [other.accountId]);
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_read: true }, auth: scoped })).status).toBe(404);
    const readOnly = await scopedKey(t.srv, ['read'], [accountId]);
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_read: true }, auth: readOnly })).status).toBe(403);
    const [row] = await sql<{ is_read: boolean }>(t.db.url, 'SELECT is_read FROM emails WHERE id = $1', [id]);
    expect(row!.is_read).toBe(false);
  }, 60_000);
});

describe('GET /api/emails/{id} marks the email read', () => {
  it('locally (read_at set once) and as \\Seen on the server, also for a read-only key', async () => {
    const { creds, accountId, ids } = await syncedAccount(t, ['opened', 'opened by reader']);
    const id = ids.get('opened')!;
    const r = await t.srv.api(`/api/emails/${id}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ id, is_read: true });
    const readAt = r.body.data.read_at;
    expect(readAt).not.toBeNull();
    await expectEventually(async () => expect(await serverFlags(t.dovecot, creds, 'INBOX', 'opened')).toEqual(['\\Seen']), { timeoutMs: 10_000, intervalMs: 100 });
    const again = await t.srv.api(`/api/emails/${id}`);
    expect(again.body.data.read_at).toBe(readAt);

    const reader = await scopedKey(t.srv, ['read'], [accountId]);
    const other = ids.get('opened by reader')!;
    const byReader = await t.srv.api(`/api/emails/${other}`, { auth: reader });
    expect(byReader.status, byReader.text).toBe(200);
    expect(byReader.body.data.is_read).toBe(true);
    await expectEventually(async () => expect(await serverFlags(t.dovecot, creds, 'INBOX', 'opened by reader')).toEqual(['\\Seen']), { timeoutMs: 10_000, intervalMs: 100 });
    const events = await sql<{ n: number }>(t.db.url, `SELECT count(*)::int AS n FROM events WHERE type = 'email.updated' AND (payload->>'emailId')::int = $1`, [id]);
    expect(events[0]!.n).toBe(1);
  }, 60_000);

  it('GraphQL: email(id) reads without side effects; openEmail and updateEmail change it', async () => {
    const { ids } = await syncedAccount(t, ['graphql']);
    const id = ids.get('graphql')!;
    const gql = (query: string) => t.srv.api('/graphql', { method: 'POST', json: { query } });
    expect((await gql(`{ email(id: "${id}") { isRead } }`)).body.data.email.isRead).toBe(false);
    expect((await gql(`mutation { openEmail(id: "${id}") { isRead readAt } }`)).body.data.openEmail.isRead).toBe(true);
    const u = await gql(`mutation { updateEmail(id: "${id}", input: { isStarred: true, categoryIds: ["${categories[0]}"] }) { isStarred categories { slug } } }`);
    expect(u.body.data.updateEmail).toEqual({ isStarred: true, categories: [{ slug: 'invoices' }] });
    const missing = await gql(`mutation { updateEmail(id: "999999", input: { isRead: true }) { id } }`);
    expect(missing.body.errors[0].extensions.code).toBe('NOT_FOUND');
  }, 60_000);
});

describe('listing totals', () => {
  it('follow every change at once (the cached COUNT is keyed by the outbox generation)', async () => {
    const { creds, accountId, ids } = await syncedAccount(t, ['t1', 't2', 't3']);
    const unread = async () => (await t.srv.api(`/api/emails?account_id=${accountId}&is_read=0`)).body.meta.total as number;
    expect(await unread()).toBe(3);
    expect(await unread()).toBe(3);
    await patch(ids.get('t1')!, { is_read: true });
    expect(await unread()).toBe(2);
    expect((await t.srv.api(`/api/emails/${ids.get('t2')!}`, { method: 'DELETE' })).status).toBe(200);
    expect(await unread()).toBe(1);
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 't4' }));
    await expectEventually(async () => expect(await unread()).toBe(2), { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);
});

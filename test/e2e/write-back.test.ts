/**
 * Local email changes written back to the IMAP server, end to end: REST/GraphQL → PostgreSQL → the write-back queue →
 * the account's IMAP session → a private Dovecot, observed with a second IMAP client. Covers \Seen / \Flagged, delete
 * to Trash and by expunge, the MODSEQ rule (a change made on the server meanwhile wins), a delete still queued during a
 * full re-sync, and the input and scope checks of the bulk and delete routes. Failures: write-back-failures.test.ts.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, withImap } from '../support/imap.js';
import { scopedKey, useMailEnv } from '../support/mail-account.js';
import { apiRequest, startTestServer } from '../support/server.js';
import { serverView, sql } from '../support/sync.js';
import { writeBackSteps } from '../support/write-back.js';

// One key makes every request of this file; the default 60/minute is tested elsewhere (auth.test.ts).
const t = useMailEnv({
  SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000',
  RATE_LIMIT_PER_MINUTE: '1000',
});

const { syncedAccount, serverFlags, bulk, emailRow, pendingRows, holdSyncLock, deleteQueued } = writeBackSteps(t);

describe('write-back of flags', () => {
  it('bulk mark_read / mark_unread sets and clears \\Seen on the server; the next flag sync keeps the local state', async () => {
    const { creds, accountId, ids } = await syncedAccount(['one', 'two', 'three']);
    const [one, two] = ['one', 'two'].map((s) => ids.get(s)!);
    const r = await bulk([one!, two!], 'mark_read');
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      success: true,
      data: [{ id: one, success: true, error: null }, { id: two, success: true, error: null }],
      meta: { total: 2, succeeded: 2, failed: 0 },
    });
    const local = await emailRow(one!);
    expect(local).toMatchObject({ is_read: true, sync_error: null });
    expect(local!.read_at).not.toBeNull();
    expect(local!.flags).toContain('\\Seen');
    await expectEventually(async () => {
      expect(await serverFlags(creds, 'INBOX', 'one')).toEqual(['\\Seen']);
      expect(await serverFlags(creds, 'INBOX', 'two')).toEqual(['\\Seen']);
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 10_000, intervalMs: 100 });
    expect(await serverFlags(creds, 'INBOX', 'three')).toEqual([]);
    const events = await sql(t.dbUrl, "SELECT payload FROM events WHERE account_id = $1 AND type = 'email.updated'", [accountId]);
    expect(events.map((e) => (e.payload as { emailId: number }).emailId).sort()).toEqual([one, two].sort());

    // Our own STORE raised the folder's HIGHESTMODSEQ: the flag sync that follows must not revert anything.
    await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
    await new Promise((res) => setTimeout(res, 1500));
    expect(await emailRow(one!)).toMatchObject({ is_read: true });
    expect(await sql(t.dbUrl, "SELECT 1 FROM events WHERE account_id = $1 AND type = 'email.updated'", [accountId])).toHaveLength(2);

    expect((await bulk([one!], 'mark_unread')).status).toBe(200);
    expect(await emailRow(one!)).toMatchObject({ is_read: false, read_at: null });
    await expectEventually(async () => expect(await serverFlags(creds, 'INBOX', 'one')).toEqual([]), { timeoutMs: 10_000, intervalMs: 100 });
    // Unchanged emails count as success but change nothing (no event, no write-back).
    expect((await bulk([two!], 'mark_read')).body.data).toEqual([{ id: two, success: true, error: null }]);
    expect(await pendingRows(accountId)).toEqual([]);
  }, 60_000);

  it('after a reconnect, the echo of a change emits no second email.updated (\\Recent is session state, not stored)', async () => {
    const { creds, accountId, ids } = await syncedAccount(['fresh']);
    const id = ids.get('fresh')!;
    // The first session to see a new message sees it \Recent; the next one does not. Drop the account's session.
    await t.dovecot.doveadm(['kick', creds.user]);
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_read: true } })).status).toBe(200);
    await expectEventually(async () => {
      expect(await serverFlags(creds, 'INBOX', 'fresh')).toEqual(['\\Seen']);
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    // Until the sync has read the folder past our STORE (the echo), on the new session.
    const status = await withImap(t.dovecot, creds, (c) => c.status('INBOX', { highestModseq: true }));
    const highestModseq = status ? status.highestModseq : undefined;
    await expectEventually(async () => {
      expect(await sql(t.dbUrl, "SELECT highest_modseq FROM folder_states WHERE account_id = $1 AND folder = 'INBOX'", [accountId])).toEqual([{ highest_modseq: String(highestModseq) }]);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: { full_resync: true } });
    const updates = await sql<{ payload: { changes: unknown } }>(t.dbUrl, "SELECT payload FROM events WHERE account_id = $1 AND type = 'email.updated'", [accountId]);
    expect(updates.map((u) => u.payload.changes)).toEqual([{ isRead: true }]);
    expect((await emailRow(id))!.flags).toEqual(['\\Seen']);
  }, 60_000);

  it('star / unstar sets and clears \\Flagged; archive stays local', async () => {
    const { creds, accountId, ids } = await syncedAccount(['starred']);
    const id = ids.get('starred')!;
    expect((await bulk([id], 'star')).status).toBe(200);
    await expectEventually(async () => expect(await serverFlags(creds, 'INBOX', 'starred')).toEqual(['\\Flagged']), { timeoutMs: 10_000, intervalMs: 100 });
    expect((await bulk([id], 'archive')).status).toBe(200);
    expect(await emailRow(id)).toMatchObject({ is_starred: true, is_archived: true });
    expect(await pendingRows(accountId)).toEqual([]);
    expect((await bulk([id], 'unstar')).status).toBe(200);
    await expectEventually(async () => expect(await serverFlags(creds, 'INBOX', 'starred')).toEqual([]), { timeoutMs: 10_000, intervalMs: 100 });
    expect(await emailRow(id)).toMatchObject({ is_starred: false, is_archived: true });
  }, 60_000);

  it('opposite changes queued together coalesce: only the last one counts', async () => {
    const { creds, accountId, ids } = await syncedAccount(['flip']);
    const id = ids.get('flip')!;
    const lock = await holdSyncLock(accountId);
    try {
      await bulk([id], 'mark_read');
      await bulk([id], 'mark_unread');
      await bulk([id], 'mark_read');
      expect((await pendingRows(accountId)).map((r) => r.action)).toEqual(['seen']);
    } finally {
      await lock.release();
    }
    await expectEventually(async () => {
      expect(await serverFlags(creds, 'INBOX', 'flip')).toEqual(['\\Seen']);
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);

  it('a change made on the server meanwhile wins (MODSEQ): the local change is dropped and the server state comes back', async () => {
    const { creds, accountId, ids } = await syncedAccount(['contested']);
    const id = ids.get('contested')!;
    const lock = await holdSyncLock(accountId);
    try {
      expect((await bulk([id], 'mark_read')).status).toBe(200);
      // Someone flags the message on the server before our write-back runs: its MODSEQ moves past ours.
      await withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('INBOX');
        await c.messageFlagsAdd('1:*', ['\\Flagged']);
      });
    } finally {
      await lock.release();
    }
    await expectEventually(async () => {
      expect(await pendingRows(accountId)).toEqual([]);
      expect(await emailRow(id)).toMatchObject({ is_read: false, is_starred: true, sync_error: null });
    }, { timeoutMs: 10_000, intervalMs: 100 });
    expect(await serverFlags(creds, 'INBOX', 'contested')).toEqual(['\\Flagged']);
  }, 60_000);
});

describe('write-back across instances', () => {
  it('a change made through an instance without the IMAP session is applied by the owner (NOTIFY)', async () => {
    const { creds, accountId, ids } = await syncedAccount(['remote']);
    const other = await startTestServer(t.dbUrl, { SYNC_ENABLED: 'false' });
    const listener = new pg.Client({ connectionString: t.dbUrl });
    const wakeUps: string[] = [];
    await listener.connect();
    listener.on('notification', (n) => wakeUps.push(n.payload ?? ''));
    await listener.query('LISTEN incoming_write_back');
    try {
      const r = await apiRequest(other.url, other, '/api/emails/bulk', { method: 'POST', json: { ids: [ids.get('remote')], action: 'star' } });
      expect(r.status, r.text).toBe(200);
      await expectEventually(async () => expect(await serverFlags(creds, 'INBOX', 'remote')).toEqual(['\\Flagged']), { timeoutMs: 10_000, intervalMs: 50 });
      expect(wakeUps).toEqual([String(accountId)]);
    } finally {
      await listener.end();
      await other.close();
    }
  }, 60_000);
});

describe('write-back of deletes', () => {
  it('DELETE /api/emails/:id in trash mode moves the message to Trash and removes the email and its attachments', async () => {
    const { creds, accountId, ids } = await syncedAccount(['keep', 'bin']);
    const id = ids.get('bin')!;
    const r = await t.srv.api(`/api/emails/${id}`, { method: 'DELETE' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true, message: 'Email deleted' });
    expect(await sql(t.dbUrl, 'SELECT 1 FROM emails WHERE id = $1', [id])).toEqual([]);
    expect(await sql(t.dbUrl, 'SELECT 1 FROM attachments WHERE email_id = $1', [id])).toEqual([]);
    expect(await sql(t.dbUrl, "SELECT 1 FROM events WHERE account_id = $1 AND type = 'email.deleted'", [accountId])).toHaveLength(1);
    await expectEventually(async () => {
      expect(await serverFlags(creds, 'INBOX', 'bin')).toBeUndefined();
      expect(await serverFlags(creds, 'Trash', 'bin')).toBeDefined();
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 10_000, intervalMs: 100 });
    expect(await serverFlags(creds, 'INBOX', 'keep')).toEqual([]);
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'DELETE' })).status).toBe(404);
    // The expunge seen by the next sync does not announce the delete a second time.
    await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
    expect(await sql(t.dbUrl, "SELECT 1 FROM events WHERE account_id = $1 AND type = 'email.deleted'", [accountId])).toHaveLength(1);
  }, 60_000);

  it('thread counters follow deletes, local ones and expunges seen by the sync; an emptied thread is gone', async () => {
    const { creds, accountId } = await syncedAccount([]);
    const root = buildMessage({ subject: 'Plan', messageId: 'plan-1@threads.test' });
    const replies = [2, 3].map((n) =>
      buildMessage({ subject: 'Re: Plan', messageId: `plan-${n}@threads.test`, headers: { 'In-Reply-To': '<plan-1@threads.test>', References: '<plan-1@threads.test>' } }),
    );
    for (const m of [root, ...replies]) await appendMessage(t.dovecot, creds, 'INBOX', m);
    let rows: { id: number; message_id: string; thread_id: number }[] = [];
    // This test is about thread counters, not IDLE's timing (sync-idle.test.ts): each round asks for a sync (joining
    // one IDLE started, which may predate the last APPEND) rather than waiting on IDLE alone, which under CI's load
    // once took more than 20 s.
    await expectEventually(async () => {
      await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
      rows = await sql(t.dbUrl, 'SELECT id, message_id, thread_id FROM emails WHERE account_id = $1 ORDER BY message_id', [accountId]);
      expect(rows).toHaveLength(3);
    }, { timeoutMs: 20_000, intervalMs: 100 });
    const threadId = rows[0]!.thread_id;
    expect(new Set(rows.map((r) => r.thread_id))).toEqual(new Set([threadId]));
    const thread = async () => t.srv.api(`/api/threads/${threadId}`);
    // received_at is the server's INTERNALDATE: the newest remaining one is the thread's last_message_at.
    const expectThread = async (count: number) => {
      const [row] = await sql<{ last: Date }>(t.dbUrl, 'SELECT max(received_at) AS last FROM emails WHERE thread_id = $1', [threadId]);
      expect((await thread()).body.data).toMatchObject({ message_count: count, last_message_at: row!.last.toISOString().replace(/\.\d+Z$/, 'Z') });
    };
    await expectThread(3);

    // A local delete of the newest reply.
    expect((await t.srv.api(`/api/emails/${rows[2]!.id}`, { method: 'DELETE' })).status).toBe(200);
    await expectThread(2);
    // An expunge on the server, seen by a later sync pass (a POST /sync may join a pass that began before it).
    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageDelete({ header: { 'message-id': 'plan-2@threads.test' } });
    });
    await expectEventually(async () => {
      expect(await sql(t.dbUrl, 'SELECT 1 FROM emails WHERE id = $1', [rows[1]!.id])).toEqual([]);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await expectThread(1);
    // The last one: the thread is gone from the API.
    expect((await t.srv.api(`/api/emails/${rows[0]!.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await thread()).status).toBe(404);
    const list = await t.srv.api(`/api/threads?account_id=${accountId}`);
    expect(list.body.data).toEqual([]);
  }, 60_000);

  it('a full re-sync while a delete is still queued does not bring the message back', async () => {
    const { creds, accountId, ids } = await syncedAccount(['queued bin', 'kept']);
    // As if its MOVE had failed once: the row waits for its retry.
    await deleteQueued(accountId, ids.get('queued bin')!, "UPDATE write_backs SET next_attempt_at = now() + interval '1 hour' WHERE account_id = $1");
    const r = await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: { full_resync: true } });
    expect(r.status, r.text).toBe(200);
    expect(await sql(t.dbUrl, 'SELECT subject FROM emails WHERE account_id = $1', [accountId])).toEqual([{ subject: 'kept' }]);
    expect(await sql(t.dbUrl, "SELECT 1 FROM events WHERE account_id = $1 AND type = 'email.received'", [accountId])).toHaveLength(2);
    await sql(t.dbUrl, 'UPDATE write_backs SET next_attempt_at = now() WHERE account_id = $1', [accountId]);
    await expectEventually(async () => expect(await serverFlags(creds, 'Trash', 'queued bin')).toBeDefined(), { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);

  it('expunge mode (delete_mode via PUT) removes the message from the server for good', async () => {
    const { creds, accountId, ids } = await syncedAccount(['gone 1', 'gone 2', 'stays']);
    const put = await t.srv.api(`/api/accounts/${accountId}`, { method: 'PUT', json: { delete_mode: 'expunge' } });
    expect(put.status, put.text).toBe(200);
    expect(put.body.data.delete_mode).toBe('expunge');
    const r = await bulk([ids.get('gone 1')!, ids.get('gone 2')!], 'delete');
    expect(r.body.meta).toEqual({ total: 2, succeeded: 2, failed: 0 });
    await expectEventually(async () => {
      const view = await serverView(t.dovecot, creds, 'INBOX');
      expect(view.messages).toHaveLength(1);
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(await serverFlags(creds, 'INBOX', 'stays')).toEqual([]);
    expect(await serverFlags(creds, 'Trash', 'gone 1')).toBeUndefined();
  }, 60_000);
});

describe('input, scope and permissions', () => {
  it('bad bulk input is a 400 naming the problem; unknown ids are reported per id', async () => {
    const bad: [unknown, RegExp][] = [
      [{ action: 'mark_read' }, /ids: is required/],
      [{ ids: [1] }, /action: is required/],
      [{ ids: [1], action: 'explode' }, /action: unknown action "explode"/],
      [{ ids: 'nope', action: 'star' }, /ids: must be/],
      [{ ids: [], action: 'star' }, /ids: must be/],
      [{ ids: [0], action: 'star' }, /ids: must be/],
      [{ ids: [-3], action: 'star' }, /ids: must be/],
      [{ ids: [1.5], action: 'star' }, /ids: must be/],
      [{ ids: ['x'], action: 'star' }, /ids: must be/],
      [{ ids: Array.from({ length: 1001 }, (_, i) => i + 1), action: 'star' }, /at most 1000/],
      [{ ids: [1], action: 'star', extra: 1 }, /Unknown field\(s\): extra/],
      [[1, 2], /JSON object/],
    ];
    for (const [json, message] of bad) {
      const r = await t.srv.api('/api/emails/bulk', { method: 'POST', json });
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(r.body.success).toBe(false);
      expect(r.body.error).toMatch(message);
    }
    const unknown = await bulk([999_999], 'mark_read');
    expect(unknown.status).toBe(200);
    expect(unknown.body.data).toEqual([{ id: 999_999, success: false, error: 'Email not found' }]);
    expect((await t.srv.api('/api/emails/abc', { method: 'DELETE' })).status).toBe(400);
    expect((await t.srv.api('/api/emails/999999', { method: 'DELETE' })).status).toBe(404);
  });

  it('a key scoped to other accounts cannot touch these emails; a read-only key gets 403', async () => {
    const { accountId, ids } = await syncedAccount(['private']);
    const other = await syncedAccount(['elsewhere']);
    const id = ids.get('private')!;
    const key = (permissions: string[], accountIds: number[]) => scopedKey(t.srv, permissions, accountIds);
    const scoped = await key(['read', 'write'], [other.accountId]);
    const r = await bulk([id, other.ids.get('elsewhere')!], 'star', scoped);
    expect(r.body.data).toEqual([
      { id, success: false, error: 'Email not found' },
      { id: other.ids.get('elsewhere'), success: true, error: null },
    ]);
    expect(await emailRow(id)).toMatchObject({ is_starred: false });
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'DELETE', auth: scoped })).status).toBe(404);
    expect(await sql(t.dbUrl, 'SELECT 1 FROM emails WHERE id = $1', [id])).toHaveLength(1);
    expect(await pendingRows(accountId)).toEqual([]);

    const readOnly = await key(['read'], [accountId]);
    expect((await bulk([id], 'star', readOnly)).status).toBe(403);
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'DELETE', auth: readOnly })).status).toBe(403);
  }, 60_000);

  it('GraphQL: bulkEmails with upper-case actions, deleteEmail with NOT_FOUND, Account.deleteMode', async () => {
    const { accountId, ids } = await syncedAccount(['gql']);
    const id = ids.get('gql')!;
    const gql = (query: string) => t.srv.api('/graphql', { method: 'POST', json: { query } });
    const b = await gql(`mutation { bulkEmails(ids: ["${id}", "999999"], action: MARK_READ) { id success error } }`);
    expect(b.body.data.bulkEmails).toEqual([
      { id: String(id), success: true, error: null },
      { id: '999999', success: false, error: 'Email not found' },
    ]);
    const acc = await gql(`{ account(id: "${accountId}") { deleteMode } }`);
    expect(acc.body.data.account.deleteMode).toBe('trash');
    const deleted = await gql(`mutation { deleteEmail(id: "${id}") }`);
    expect(deleted.body, deleted.text).toEqual({ data: { deleteEmail: true } });
    const again = await gql(`mutation { deleteEmail(id: "${id}") }`);
    expect(again.body.errors[0].extensions.code).toBe('NOT_FOUND');
    const badMode = await t.srv.api(`/api/accounts/${accountId}`, { method: 'PUT', json: { delete_mode: 'shred' } });
    expect(badMode.status).toBe(400);
    expect(badMode.body.error).toMatch(/deleteMode|delete_mode/);
  }, 60_000);
});

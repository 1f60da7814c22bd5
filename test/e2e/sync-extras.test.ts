/**
 * Sync details: thread linking, oversize messages, syncProgress over graphql-ws, the orphan sweep's inputs, a first sync
 * longer than one metadata window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createDovecotUser } from '../support/dovecot.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectInSync, sql } from '../support/sync.js';
import { fillMaildir } from '../support/maildir.js';
import { generateMailbox } from '../fixtures/messages.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const dovecot = inject('dovecot');
let db: TestDatabase;
let srv: TestServer;
const blobPath = (key: string): string => path.join(srv.dataDir, 'blobs', key.slice(0, 2), key);

async function account(creds: { user: string; password: string }): Promise<number> {
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Extras', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none' },
  });
  return r.body.data.id as number;
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { MAX_MESSAGE_BYTES: '100000', RAW_INLINE_MAX_BYTES: '20000', SYNC_ENABLED: 'false' });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('sync extras', () => {
  it('links replies into one thread, whatever the arrival order', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    // The reply arrives before its parent; a second reply references both.
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'Re: Plan', messageId: '<b@x>', headers: { 'In-Reply-To': '<a@x>', References: '<a@x>' } }));
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'Plan', messageId: '<a@x>' }));
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'Re: Re: Plan', messageId: '<c@x>', headers: { 'In-Reply-To': '<b@x>', References: '<a@x> <b@x>' } }));
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'Unrelated', messageId: '<z@x>' }));
    const id = await account(mb);
    await srv.api(`/api/accounts/${id}/sync`, { method: 'POST' });
    const rows = await sql<{ message_id: string; thread_id: number }>(db.url, 'SELECT message_id, thread_id FROM emails WHERE account_id = $1 ORDER BY message_id', [id]);
    const t = Object.fromEntries(rows.map((r) => [r.message_id, r.thread_id]));
    expect(t['a@x']).toBe(t['b@x']);
    expect(t['b@x']).toBe(t['c@x']);
    expect(t['z@x']).not.toBe(t['a@x']);
    const [thread] = await sql<{ message_count: number; subject: string }>(db.url, 'SELECT message_count, subject FROM threads WHERE id = $1', [t['a@x']]);
    expect(thread).toMatchObject({ message_count: 3, subject: 'Plan' });
  });

  it('a message over MAX_MESSAGE_BYTES is stored raw with its headers only', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: 'Huge one', attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', content: Buffer.alloc(300_000, 1) }] }));
    const id = await account(mb);
    const r = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST' });
    expect(r.body.data).toMatchObject({ new: 1, failed: 0 });
    const [row] = await sql<Record<string, any>>(db.url, 'SELECT subject, body_text, has_attachments, size, raw_blob FROM emails WHERE account_id = $1', [id]);
    expect(row).toMatchObject({ subject: 'Huge one', body_text: null, has_attachments: false });
    expect(row!.size).toBeGreaterThan(300_000);
    expect(row!.raw_blob).toMatch(/^[0-9a-f]{64}$/);
    expect((await readFile(blobPath(row!.raw_blob))).length).toBe(row!.size);
    expect(await sql(db.url, 'SELECT 1 FROM raw_sources WHERE key = $1', [row!.raw_blob])).toEqual([]);
  });

  it('raw sources up to RAW_INLINE_MAX_BYTES are stored in PostgreSQL, larger ones as blob files', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    const small = buildMessage({ subject: 'Small one', text: 'tiny body' });
    const large = buildMessage({ subject: 'Larger one', attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: Buffer.alloc(30_000, 7) }] });
    await appendMessage(dovecot, mb, 'INBOX', small);
    await appendMessage(dovecot, mb, 'INBOX', large);
    const id = await account(mb);
    expect((await srv.api(`/api/accounts/${id}/sync`, { method: 'POST' })).body.data).toMatchObject({ new: 2, failed: 0 });
    const rows = await sql<{ subject: string; raw_blob: string; size: number; data: Buffer | null }>(
      db.url,
      'SELECT e.subject, e.raw_blob, e.size, r.data FROM emails e LEFT JOIN raw_sources r ON r.key = e.raw_blob WHERE e.account_id = $1 ORDER BY e.uid',
      [id],
    );
    expect(rows.map((r) => r.subject)).toEqual(['Small one', 'Larger one']);
    const [inline, file] = rows as [(typeof rows)[number], (typeof rows)[number]];
    // The exact source, under the key a blob file would have had, and no file for it.
    expect(inline.data!.length).toBe(inline.size);
    expect(createHash('sha256').update(inline.data!).digest('hex')).toBe(inline.raw_blob);
    expect(inline.data!.toString()).toContain('tiny body');
    await expect(readFile(blobPath(inline.raw_blob))).rejects.toThrow(/ENOENT/);
    expect(file.data).toBeNull();
    expect(createHash('sha256').update(await readFile(blobPath(file.raw_blob))).digest('hex')).toBe(file.raw_blob);
    // Syncing again stores nothing twice.
    await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: { full_resync: true } });
    const [count] = await sql<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM raw_sources WHERE key = $1', [inline.raw_blob]);
    expect(count!.n).toBe(1);
  });

  it('syncProgress streams folder, done and total over graphql-ws while a pass runs', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    for (let i = 0; i < 30; i++) await appendMessage(dovecot, mb, 'INBOX', buildMessage({ subject: `p${i}` }));
    const id = await account(mb);
    const client = createClient({ url: `${srv.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { apiKey: srv.key, apiSecret: srv.secret }, retryAttempts: 0 });
    const seen: { folder: string; done: number; total: number }[] = [];
    const subscribed = new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: `subscription { syncProgress(accountId: "${id}") { folder done total } }` },
        { next: (r) => void seen.push((r.data as { syncProgress: (typeof seen)[number] }).syncProgress), error: reject, complete: () => undefined },
      );
      setTimeout(resolve, 500);
    });
    await subscribed;
    await srv.api(`/api/accounts/${id}/sync`, { method: 'POST' });
    await new Promise((r) => setTimeout(r, 500));
    await client.dispose();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual({ folder: 'INBOX', done: 30, total: 30 });
    expect(seen.every((p) => p.total === 30 && p.done <= 30)).toBe(true);
  });

  it('a first sync of 2,500 messages (metadata fetched 1,000 UIDs at a time): each stored once, cursor at UIDNEXT', async () => {
    const mb = await createDovecotUser(dovecot.dir);
    await fillMaildir(dovecot.dir, mb.user, generateMailbox(2500, 31));
    const id = await account(mb);
    const r = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST' });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ new: 2500, failed: 0 });
    await expectInSync(db.url, id, dovecot, mb, 'INBOX');
    const [cursor] = await sql<{ uid_next: string }>(db.url, "SELECT uid_next FROM folder_states WHERE account_id = $1 AND folder = 'INBOX'", [id]);
    expect(Number(cursor!.uid_next)).toBe(2501);
    expect((await srv.api(`/api/accounts/${id}/sync`, { method: 'POST' })).body.data).toMatchObject({ new: 0, failed: 0 });
  }, 120_000);

  it('syncProgress refuses accounts outside the key scope', async () => {
    const client = createClient({ url: `${srv.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { apiKey: srv.key, apiSecret: srv.secret }, retryAttempts: 0 });
    const err = await new Promise<unknown>((resolve) => {
      // A failing subscribe resolver arrives as a result with errors (then complete), or as an error.
      client.subscribe({ query: 'subscription { syncProgress(accountId: "987654") { done } }' }, { next: (r) => resolve(r.errors), error: resolve, complete: () => resolve(null) });
    });
    await client.dispose();
    expect(JSON.stringify(err)).toContain('NOT_FOUND');
  });
});

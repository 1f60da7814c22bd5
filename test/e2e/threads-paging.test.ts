/**
 * A thread's emails come a page at a time (default 50, at most 100, oldest first): a mailing-list thread can hold
 * 10,000 messages, and GET /api/emails/{id}/thread, GET /api/threads/{id} and GraphQL thread(id) { emails } used to
 * answer all of them, bodies included, in one response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

let db: TestDatabase;
let srv: TestServer;
let threadId: number;
/** Email ids of the thread, oldest first. */
let ids: number[];
const SIZE = 120;

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });
  const [account] = await sql<{ id: number }>(
    db.url,
    `INSERT INTO accounts (name, email, host, port, username, password_sealed, sync_folders, created_at, updated_at)
     VALUES ('A', 'a@example.com', '127.0.0.1', 143, 'a', 'x', '["INBOX"]', now(), now()) RETURNING id`,
  );
  const [thread] = await sql<{ id: number }>(
    db.url,
    `INSERT INTO threads (account_id, subject, message_count, last_message_at, created_at) VALUES ($1, 'List', $2, now(), now()) RETURNING id`,
    [account!.id, SIZE],
  );
  threadId = thread!.id;
  // Inserted newest first, so that id order is not the thread's order.
  const rows = await sql<{ id: number }>(
    db.url,
    `INSERT INTO emails (account_id, thread_id, folder, uid_validity, uid, header_hash, subject, body_text, to_addresses, cc_addresses,
                         headers, "references", received_at, flags, raw_blob, created_at, updated_at)
     SELECT $1, $2, 'INBOX', 1, i, lpad(i::text, 64, '0'), 'Re: List ' || i, 'body ' || i, '[]', '[]', '{}', '[]',
            timestamptz '2026-01-01' + i * interval '1 minute', '[]', lpad(i::text, 64, '0'), now(), now()
     FROM generate_series($3::int, 1, -1) i RETURNING id`,
    [account!.id, threadId, SIZE],
  );
  ids = rows.map((r) => r.id).reverse();
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

const idsOf = (emails: { id: number | string }[]) => emails.map((e) => Number(e.id));

describe('thread paging', () => {
  it('GET /api/emails/{id}/thread: 50 by default, page and per_page (clamped to 100), meta with the total', async () => {
    const first = await srv.api(`/api/emails/${ids[7]}/thread`);
    expect(first.status).toBe(200);
    expect(idsOf(first.body.data)).toEqual(ids.slice(0, 50));
    expect(first.body.data[0]).toMatchObject({ subject: 'Re: List 1', body_text: 'body 1' });
    expect(first.body.meta).toEqual({ page: 1, per_page: 50, total: SIZE, total_pages: 3 });
    const last = await srv.api(`/api/emails/${ids[0]}/thread?page=3`);
    expect(idsOf(last.body.data)).toEqual(ids.slice(100));
    const big = await srv.api(`/api/emails/${ids[0]}/thread?per_page=100000&page=2`);
    expect(idsOf(big.body.data)).toEqual(ids.slice(100));
    expect(big.body.meta).toEqual({ page: 2, per_page: 100, total: SIZE, total_pages: 2 });
    expect((await srv.api(`/api/emails/${ids[0]}/thread?page=0`)).status).toBe(400);
  });

  it('GET /api/threads/{id}: a page of emails, message_count the whole thread', async () => {
    const r = await srv.api(`/api/threads/${threadId}?per_page=30&page=2`);
    expect(r.status).toBe(200);
    expect(r.body.data.message_count).toBe(SIZE);
    expect(idsOf(r.body.data.emails)).toEqual(ids.slice(30, 60));
    expect((await srv.api(`/api/threads/${threadId}`)).body.data.emails).toHaveLength(50);
  });

  it('GraphQL: thread(id) { emails(page, perPage) }, emailThread and emailThreadPage', async () => {
    const r = await srv.api('/graphql', {
      method: 'POST',
      json: {
        query: `query($t: ID!, $e: ID!) {
          thread(id: $t) { all: emails { id } second: emails(page: 2, perPage: 100) { id } }
          threads { nodes { emails(perPage: 2) { id } } }
          emailThread(id: $e) { id }
          emailThreadPage(id: $e, page: 3, perPage: 10) { nodes { id } totalCount page perPage totalPages }
        }`,
        variables: { t: String(threadId), e: String(ids[0]) },
      },
    });
    expect(r.body.errors).toBeUndefined();
    const d = r.body.data;
    expect(idsOf(d.thread.all)).toEqual(ids.slice(0, 50));
    expect(idsOf(d.thread.second)).toEqual(ids.slice(100));
    expect(idsOf(d.threads.nodes[0].emails)).toEqual(ids.slice(0, 2));
    expect(idsOf(d.emailThread)).toEqual(ids.slice(0, 50));
    expect(d.emailThreadPage).toEqual({ nodes: ids.slice(20, 30).map((id) => ({ id: String(id) })), totalCount: SIZE, page: 3, perPage: 10, totalPages: 12 });
  });
});

describe("seed 004's own paths", () => {
  it('/api/emails/threads, /statistics and /folders answer (they were read as an email id: 400)', async () => {
    const threads = await srv.api('/api/emails/threads?per_page=5');
    expect(threads.status).toBe(200);
    expect(threads.body).toEqual((await srv.api('/api/threads?per_page=5')).body);
    expect(threads.body.data[0]).toMatchObject({ id: threadId, message_count: SIZE });
    const stats = await srv.api('/api/emails/statistics');
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual({ success: true, data: { total_emails: SIZE, total_threads: 1, unread_emails: SIZE, folders: { INBOX: SIZE } } });
    expect(await srv.api('/api/emails/folders')).toMatchObject({ status: 200, body: { success: true, data: ['INBOX'] } });
  });
});

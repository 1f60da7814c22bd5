/**
 * GET /api/emails/search answers emails in the listing's item shape (plus rank and snippet): they lacked the
 * `categories` that every listing item carries, so a client showing both in one view lost them for search results.
 * They are read in the search's own statement (a second query for them was a round trip per search).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';
import { spyOnQueries } from '../support/pg-spy.js';

let db: TestDatabase;
let srv: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false' });
  const [email] = await sql<{ id: number }>(
    db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, body_text, to_addresses, cc_addresses, headers, "references",
                         received_at, flags, raw_blob, created_at, updated_at)
     VALUES ('INBOX', 1, 1, lpad('1', 64, '0'), 'Zebra crossing', 'a zebra', '[]', '[]', '{}', '[]', now(), '[]', lpad('1', 64, '0'), now(), now())
     RETURNING id`,
  );
  const [category] = await sql<{ id: number }>(
    db.url,
    `INSERT INTO categories (name, slug, color, created_at, updated_at) VALUES ('Animals', 'animals', '#00aa00', now(), now()) RETURNING id`,
  );
  await sql(db.url, 'INSERT INTO email_categories (email_id, category_id, assigned_by, created_at) VALUES ($1, $2, $3, now())', [email!.id, category!.id, 'manual']);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('search results', () => {
  it('carry the listing item fields, categories included, plus rank and snippet', async () => {
    const listed = (await srv.api('/api/emails?search=zebra')).body.data[0];
    const found = await srv.api('/api/emails/search?q=zebra');
    expect(found.status).toBe(200);
    const { rank, snippet, ...email } = found.body.data[0];
    expect(email).toEqual(listed);
    expect(email.categories).toEqual([{ id: expect.any(Number), name: 'Animals', slug: 'animals', color: '#00aa00' }]);
    expect(rank).toBeGreaterThan(0);
    expect(snippet).toContain('<mark>');
  });

  it('reads the categories in the search statement itself, not by a second query', async () => {
    // What this server sends to PostgreSQL (support/pg-spy.ts).
    const { seen, restore } = spyOnQueries();
    try {
      const found = await srv.api('/api/emails/search?q=zebra');
      expect(found.body.data[0].categories).toEqual([{ id: expect.any(Number), name: 'Animals', slug: 'animals', color: '#00aa00' }]);
      const gql = await srv.api('/graphql', { method: 'POST', json: { query: 'query { searchEmails(q: "zebra") { rank email { id categories { slug } attachments { id } } } }' } });
      expect(gql.body.errors).toBeUndefined();
      expect(gql.body.data.searchEmails[0].email).toEqual({ id: String(found.body.data[0].id), categories: [{ slug: 'animals' }], attachments: [] });
    } finally {
      restore();
    }
    const reads = seen.filter((s) => /\b(emails|email_categories|attachments)\b/.test(s));
    expect(reads).toHaveLength(2);
    for (const s of reads) expect(s).toMatch(/ts_headline[\s\S]*email_categories/);
    expect(reads[1]).toMatch(/FROM attachments a WHERE/);
  });
});

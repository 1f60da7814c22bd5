/**
 * Seed 004's threaded view (`GET /api/emails?thread=true`, `emails(filter: {threaded: true})`) at scale: 20,000 emails
 * in 2,000 threads of 10, interleaved in time. A page walks the received_at index and probes emails_thread_recency
 * once per row it visits (no sort of every match, no probe of the whole thread); the total counts threads.
 */
import { RequestContext } from '@mikro-orm/postgresql';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { exec } from '../../src/db/sql.js';
import type { Principal } from '../../src/modules/auth/auth.service.js';
import { EmailsQueryService } from '../../src/modules/emails/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const statements = vi.hoisted(() => [] as { sql: string; params: readonly unknown[] }[]);
vi.mock('../../src/db/sql.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/db/sql.js')>();
  return { ...mod, exec: (...args: Parameters<typeof mod.exec>) => (statements.push({ sql: args[1], params: args[2] ?? [] }), mod.exec(...args)) };
});

const t = useOrmDatabase(2);
const principal: Principal = { keyId: 1, name: 't', permissions: ['read'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };

beforeAll(async () => {
  await sql(t.db.url, `INSERT INTO threads (subject, message_count, created_at) SELECT 'T' || i, 10, now() FROM generate_series(1, 2000) i`);
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, body_text, to_addresses, cc_addresses, headers,
                         "references", received_at, flags, raw_blob, created_at, updated_at, thread_id)
     SELECT 'INBOX', 1, i, lpad(i::text, 64, '0'), 'subject ' || i, 'body', '[]', '[]', '{}', '[]',
            timestamptz '2026-01-01' + i * interval '1 minute', '[]', lpad(i::text, 64, '0'), now(), now(), 1 + i % 2000
     FROM generate_series(0, 19999) i`,
  );
  await sql(t.db.url, 'ANALYZE emails');
});

describe('threaded listing', () => {
  it('a page is one row per thread, newest first, read by an index walk with one recency probe per visited row', async () => {
    const emails = new EmailsQueryService(t.orm);
    await RequestContext.create(t.orm.em, async () => {
      const from = statements.length;
      const page = await emails.list(principal, { filter: { threaded: true }, perPage: 5, page: 2 });
      expect(page.total).toBe(2000);
      // The newest 2,000 emails are one per thread (i % 2000 differs): page 2 is the 6th to 10th newest.
      expect(page.rows.map((r) => r.subject)).toEqual([19994, 19993, 19992, 19991, 19990].map((i) => `subject ${i}`));
      const older = await emails.list(principal, { filter: { threaded: true, until: '2026-01-13' }, perPage: 3 });
      // Until 2026-01-13 (i < 17280): each thread's newest match is among the 2,000 before that.
      expect(new Set(older.rows.map((r) => r.threadId)).size).toBe(3);
      const pageSql = statements.slice(from).find((s) => s.sql.includes('_key'))!;
      const plan = (await exec<{ 'QUERY PLAN': string }>(t.orm.em.fork(), `EXPLAIN (ANALYZE, COSTS OFF) ${pageSql.sql}`, pageSql.params)).map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('emails_thread_recency');
      expect(plan).not.toMatch(/^\s*(->\s*)?Sort/m);
      // The walk stops at the page's end: about 10 rows visited, not 20,000.
      const walk = /Index Scan Backward using \w+ on emails e \(actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/.exec(plan);
      expect(walk, plan).not.toBeNull();
      expect(Number(walk![1])).toBeLessThan(50);
    });
  });
});

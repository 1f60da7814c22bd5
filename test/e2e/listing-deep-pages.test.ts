/**
 * A page far into a listing: OFFSET reads every row it skips, so page=100000 of 100k emails took 0.6 s to answer an
 * empty page (and 6 s at a million: past the statement timeout, a 503 that a client would retry for ever). From
 * DEEP_OFFSET on, the page statement runs only when the listing's total says the page holds rows.
 */
import { RequestContext } from '@mikro-orm/postgresql';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../src/modules/auth/auth.service.js';
import { EmailsQueryService } from '../../src/modules/emails/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const statements = vi.hoisted(() => [] as string[]);
vi.mock('../../src/db/sql.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/db/sql.js')>();
  return { ...mod, exec: (...args: Parameters<typeof mod.exec>) => (statements.push(args[1]), mod.exec(...args)) };
});

const t = useOrmDatabase(2);
const principal: Principal = { keyId: 1, name: 't', permissions: ['read'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };
const EMAILS = 10_050;

beforeAll(async () => {
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, to_addresses, cc_addresses, headers, "references",
                         received_at, flags, raw_blob, created_at, updated_at)
     SELECT 'INBOX', 1, i, lpad(i::text, 64, '0'), 's' || i, '[]', '[]', '{}', '[]',
            timestamptz '2026-01-01' + i * interval '1 minute', '[]', lpad(i::text, 64, '0'), now(), now()
     FROM generate_series(1, $1::int) i`,
    [EMAILS],
  );
});

/** Page statements (the listing's rows) run since `from`. */
const pageReads = (from: number) => statements.slice(from).filter((s) => s.includes('OFFSET ?')).length;

describe('deep listing pages', () => {
  it('past the end: answered from the total, without reading the rows it would skip', async () => {
    const emails = new EmailsQueryService(t.orm);
    await RequestContext.create(t.orm.em, async () => {
      const from = statements.length;
      for (const page of [102, 100_000, 1_000_000]) {
        const p = await emails.list(principal, { page, perPage: 100 });
        expect(p).toMatchObject({ rows: [], total: EMAILS, page, perPage: 100, totalPages: 101, hasNextPage: false, hasPreviousPage: true });
      }
      expect(pageReads(from)).toBe(0);
      // A deep page that holds rows is read, and so is a shallow one.
      const last = await emails.list(principal, { page: 101, perPage: 100 });
      expect(last.rows.map((r) => r.subject)).toEqual(Array.from({ length: 50 }, (_, i) => `s${50 - i}`));
      expect((await emails.list(principal, { page: 3, perPage: 10 })).rows).toHaveLength(10);
      expect(pageReads(from)).toBe(2);
    });
  });
});

/**
 * Statistics (GET /api/stats, /api/emails/stats, emailStats, and per account GET /api/accounts/{id}[/stats]) and
 * folder counts (GET /api/folders) read every visible email: at 100k emails, ~1 s of PostgreSQL CPU each, and six dashboard requests a second saturated two cores. They are
 * now computed once per outbox generation (count-cache.ts): concurrent requests share one computation, and a change to
 * the mail (which appends an event) shows at the next request.
 */
import { RequestContext } from '@mikro-orm/postgresql';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../src/modules/auth/auth.service.js';
import { EmailChangesService, EmailsQueryService, EmailStatsService } from '../../src/modules/emails/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const statements = vi.hoisted(() => [] as string[]);
vi.mock('../../src/db/sql.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/db/sql.js')>();
  return { ...mod, exec: (...args: Parameters<typeof mod.exec>) => (statements.push(args[1]), mod.exec(...args)) };
});

const t = useOrmDatabase(4);
let accountId: number;
const principal: Principal = { keyId: 1, name: 't', permissions: ['read', 'write'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };
let ids: number[];

beforeAll(async () => {
  const rows = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, to_addresses, cc_addresses, headers, "references",
                         received_at, flags, raw_blob, created_at, updated_at)
     SELECT CASE WHEN i % 2 = 0 THEN 'INBOX' ELSE 'Sent' END, 1, i, lpad(i::text, 64, '0'), 's' || i, '[]', '[]', '{}', '[]',
            now(), '[]', lpad(i::text, 64, '0'), now(), now()
     FROM generate_series(1, 6) i RETURNING id`,
  );
  ids = rows.map((r) => r.id);
  const [account] = await sql<{ id: number }>(
    t.db.url,
    `INSERT INTO accounts (name, email, host, port, username, password_sealed, sync_folders, created_at, updated_at)
     VALUES ('A', 'a@example.com', '127.0.0.1', 143, 'a', 'x', '["INBOX"]', now(), now()) RETURNING id`,
  );
  accountId = account!.id;
  await sql(t.db.url, 'UPDATE emails SET account_id = $1 WHERE id = ANY($2::int[])', [accountId, ids.slice(3)]);
});

/** Statements that aggregate over the emails (statistics or folder counts) run since `from`. */
const aggregates = (from: number) => statements.slice(from).filter((s) => s.includes('count(*) FILTER (WHERE NOT e.is_read)')).length;

describe('statistics and folder counts', () => {
  it('are computed once for concurrent requests and reused until the mail changes', async () => {
    const emails = new EmailsQueryService(t.orm);
    await RequestContext.create(t.orm.em, async () => {
      let from = statements.length;
      const all = await Promise.all(Array.from({ length: 10 }, () => emails.stats(principal)));
      expect(all.map((s) => s.unreadEmails)).toEqual(Array(10).fill(6));
      expect(aggregates(from)).toBe(2); // the totals and the folder counts, once
      from = statements.length;
      expect((await emails.stats(principal)).unreadEmails).toBe(6);
      await Promise.all(Array.from({ length: 5 }, () => emails.folders(principal)));
      const folders = await emails.folders(principal);
      expect(folders).toEqual([
        { accountId, folder: 'INBOX', total: 2, unread: 2 },
        { accountId, folder: 'Sent', total: 1, unread: 1 },
        { accountId: null, folder: 'INBOX', total: 1, unread: 1 },
        { accountId: null, folder: 'Sent', total: 2, unread: 2 },
      ]);
      expect(aggregates(from)).toBe(1); // the folders once; the statistics not again

      // A change appends an event: the next request sees it.
      await new EmailChangesService(t.orm).update(principal, [ids[0]!, ids[1]!], { isRead: true });
      expect((await emails.stats(principal)).unreadEmails).toBe(4);
      expect((await emails.folders(principal)).map((f) => f.unread)).toEqual([2, 1, 0, 1]);
    });
  });

  it('per account, likewise', async () => {
    const stats = new EmailStatsService(t.orm);
    await RequestContext.create(t.orm.em, async () => {
      const from = statements.length;
      const all = await Promise.all(Array.from({ length: 10 }, () => stats.statsFor([accountId])));
      expect(all.map((s) => s.get(accountId)?.unreadEmails)).toEqual(Array(10).fill(3));
      expect((await stats.statsFor([accountId])).get(accountId)).toMatchObject({ totalEmails: 3, unreadEmails: 3 });
      expect(statements.slice(from).filter((s) => s.includes('FILTER (WHERE has_attachments)'))).toHaveLength(1);
      await new EmailChangesService(t.orm).update(principal, [ids[5]!], { isRead: true });
      expect((await stats.statsFor([accountId])).get(accountId)).toMatchObject({ totalEmails: 3, unreadEmails: 2 });
    });
  });
});

/**
 * A listing filtered by `search` (GET /api/emails?search=…, GraphQL emails(filter: {search})): PostgreSQL estimates any
 * word it has no statistics for at 0.5% of the rows, so for a small page it walked the sort index testing each row's
 * tsvector — for a rare or absent word, every row of the table (4.5 s for a page of 20 at 100k emails). The search
 * statistics now decide: a rare word gets the GIN bitmap, a common one keeps the walk. The plans are read
 * with auto_explain, whose output PostgreSQL sends to the client as a notice.
 */
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../src/db/sql.js';
import type { Principal } from '../../src/modules/auth/auth.service.js';
import { EmailsQueryService } from '../../src/modules/emails/index.js';
import { estimateShare, SearchWindows } from '../../src/modules/emails/search-window.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

// One connection, so that the session settings below hold for every statement.
const t = useOrmDatabase(1);
const principal: Principal = { keyId: 1, name: 't', permissions: ['read'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };
const plans: string[] = [];
let service: EmailsQueryService;
let windows: SearchWindows;

beforeAll(async () => {
  // common: in half of the emails; rare: in 3 of 20,000; each email also has a word of its own.
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, subject, body_text, to_addresses, cc_addresses, headers,
                         "references", received_at, flags, raw_blob, created_at, updated_at)
     SELECT 'INBOX', 1, i, lpad(i::text, 64, '0'), 'subject ' || i,
            concat_ws(' ', 'word' || i, CASE WHEN i % 2 = 0 THEN 'common' END, CASE WHEN i % 20 = 3 THEN 'mid' END,
                      CASE WHEN i % 7000 = 1 THEN 'rare' END, repeat('filler ', 40)),
            '[]', '[]', '{}', '[]', timestamptz '2026-01-01' + i * interval '1 minute', '[]', lpad(i::text, 64, '0'), now(), now()
     FROM generate_series(0, 19999) i`,
  );
  await sql(t.db.url, 'ANALYZE emails');
  windows = new SearchWindows(() => t.orm.em.fork(), { minMatches: 500 });
  await windows.load();
  service = new EmailsQueryService(t.orm, windows);
  const em = t.orm.em.fork();
  await exec(em, "LOAD 'auto_explain'");
  await exec(em, 'SET auto_explain.log_min_duration = 0');
  await exec(em, 'SET auto_explain.log_level = notice');
  const pool = (await em.getConnection().getNativeClient()) as unknown as { _clients: pg.Client[] };
  for (const client of pool._clients) client.on('notice', (n) => plans.push(n.message ?? ''));
});

/** The plan of the page statement of a listing (the one that reads `_key`). */
async function pagePlan(search: string, sort: string, perPage: number): Promise<string> {
  plans.length = 0;
  await service.list(principal, { filter: { search }, sort, perPage }, { count: false });
  const plan = plans.find((p) => p.includes('_key'));
  expect(plan).toBeDefined();
  return plan!;
}

const WALK = /Index Scan (Backward )?using emails_(received_id|subject_sort|from_sort)/;

describe('search in a listing', () => {
  it('a rare or absent word does not walk the sort index, whatever the sort', async () => {
    for (const sort of ['received_at', 'subject', 'from_address']) {
      for (const word of ['rare', 'absent', 'rare or absent', '😀😀']) expect(await pagePlan(word, sort, 5)).not.toMatch(WALK);
    }
    // Same results as before: the newest matches.
    const page = await service.list(principal, { filter: { search: 'rare' }, perPage: 2 }, { count: false });
    expect(page.rows.map((r) => r.messageUid)).toEqual(['14001', '7001']);
  });

  it('a common word keeps the walk (the bitmap would visit half of the table)', async () => {
    expect(await pagePlan('common', 'received_at', 5)).toMatch(WALK);
    expect(await pagePlan('rare or common', 'received_at', 5)).toMatch(WALK);
  });

  it('weighs the rows a walk would test against the matches the bitmap would visit', () => {
    // mid: 5% of 20,000 emails, 1,000 matches; a walk tests ~rows / 5% of them, each worth ~6 bitmap matches.
    expect(windows.walkable('mid', 3)).toBe(true);
    expect(windows.walkable('mid', 51)).toBe(false);
    expect(windows.walkable('common', 400)).toBe(true);
    expect(windows.walkable('common', 5000)).toBe(false);
    expect(windows.walkable('rare', 1)).toBe(false);
  });

  it('estimates a query by its most frequent or-branch; negated words by what they leave', () => {
    const stats = new Map([['alpha', 0.1], ['beta', 0.5]]);
    expect(estimateShare('alpha', stats)).toBe(0.1);
    expect(estimateShare('alpha beta', stats)).toBeCloseTo(0.05);
    expect(estimateShare('alpha or beta', stats)).toBe(0.5);
    expect(estimateShare('unknown or alpha', stats)).toBe(0.1);
    expect(estimateShare('unknown', stats)).toBe(0);
    expect(estimateShare('-beta', stats)).toBe(0.5);
    expect(estimateShare('-unknown', stats)).toBe(1);
    expect(estimateShare('😀 !!', stats)).toBe(0);
  });
});

/**
 * TableStats: an ANALYZE after every `every` inserted rows, in the background, so that the planner knows a table that
 * a bulk sync just filled (real PostgreSQL; autovacuum is off for the table so that only our ANALYZE can count it).
 */
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { TableStats } from '../../src/db/table-stats.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase();

const reltuples = async () => Number((await sql<{ n: number }>(t.db.url, "SELECT reltuples AS n FROM pg_class WHERE relname = 'emails'"))[0]!.n);

describe('TableStats', () => {
  beforeAll(async () => {
    await sql(t.db.url, 'ALTER TABLE emails SET (autovacuum_enabled = false)');
    await sql(
      t.db.url,
      `INSERT INTO emails (folder, uid_validity, uid, header_hash, to_addresses, cc_addresses, headers, "references", received_at, flags, raw_blob, created_at, updated_at)
       SELECT 'INBOX', 1, i, md5(i::text), '[]', '[]', '{}', '[]', now(), '[]', md5(i::text), now(), now() FROM generate_series(1, 20) i`,
    );
  });

  it('analyzes the table once the inserted rows reach the threshold, not before', async () => {
    const stats = new TableStats(t.orm, 'emails', 50, pino({ level: 'silent' }));
    const before = await reltuples();
    expect(before).not.toBe(20);
    stats.inserted(30);
    await stats.idle();
    expect(await reltuples()).toBe(before);
    stats.inserted(20);
    await stats.idle();
    expect(await reltuples()).toBe(20);
  });
});

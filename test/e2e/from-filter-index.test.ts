/**
 * The `from` filter (sender address or name, partial, case-insensitive) is served by trigram indexes on both columns:
 * with only the address indexed, the OR of the two could use neither, and each `from=` listing read the whole table.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../src/db/sql.js';
import { buildEmailWhere } from '../../src/modules/emails/email-query.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase(1);

beforeAll(async () => {
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, from_address, from_name, to_addresses, cc_addresses, headers,
                         "references", received_at, flags, raw_blob, created_at, updated_at)
     SELECT 'INBOX', 1, i, lpad(i::text, 64, '0'), 'sender' || (i % 500) || '@example.com', 'Sender Number ' || (i % 500),
            '[]', '[]', '{}', '[]', timestamptz '2026-01-01' + i * interval '1 minute', '[]', lpad(i::text, 64, '0'), now(), now()
     FROM generate_series(1, 20000) i`,
  );
  await sql(t.db.url, 'ANALYZE emails');
});

describe('from filter', () => {
  it('uses the trigram indexes of the address and the name, not a scan of every email', async () => {
    const where = buildEmailWhere(null, { from: 'Zoë Quartz' });
    // On a test-sized table a scan may be cheapest; the question is whether the filter can use the indexes at all.
    const plan = await t.orm.em.fork().transactional(async (em) => {
      await exec(em, 'SET LOCAL enable_seqscan = off');
      const rows = await exec<{ 'QUERY PLAN': string }>(em, `EXPLAIN SELECT e.id FROM emails e WHERE ${where.sql}`, where.params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('emails_from_trgm');
    expect(plan).toContain('emails_from_name_trgm');
    expect(plan).not.toContain('Seq Scan');
  });
});

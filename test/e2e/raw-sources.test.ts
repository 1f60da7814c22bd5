/** The raw-source sweep: rows no email names go once older than the grace period; named or young ones stay. */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sweepRawSources } from '../../src/modules/emails/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql, waitForLockWait } from '../support/sync.js';

const t = useOrmDatabase();

const key = (c: string) => c.repeat(64);

async function addSource(k: string, age: string): Promise<void> {
  await sql(t.db.url, `INSERT INTO raw_sources (key, data, stored_at) VALUES ($1, $2, now() - $3::interval)`, [k, Buffer.from(`source ${k}`), age]);
}

async function addEmail(rawBlob: string): Promise<void> {
  await sql(
    t.db.url,
    `INSERT INTO emails (folder, uid_validity, uid, header_hash, to_addresses, cc_addresses, headers, "references", received_at, flags, raw_blob, created_at, updated_at)
     VALUES ('INBOX', 1, (SELECT coalesce(max(uid), 0) + 1 FROM emails), $1, '[]', '[]', '{}', '[]', now(), '[]', $1, now(), now())`,
    [rawBlob],
  );
}

describe('sweepRawSources', () => {
  it('removes only old rows that no email names', async () => {
    await addSource(key('a'), '2 hours'); // named by an email
    await addSource(key('b'), '2 hours'); // orphan, old
    await addSource(key('c'), '1 minute'); // orphan, young (its email may still be committing)
    await addEmail(key('a'));
    expect(await sweepRawSources(t.orm, 3_600_000)).toBe(1);
    const left = await sql<{ key: string }>(t.db.url, 'SELECT key FROM raw_sources ORDER BY key');
    expect(left.map((r) => r.key)).toEqual([key('a'), key('c')]);
    expect(await sweepRawSources(t.orm, 3_600_000)).toBe(0);
  });

  it('keeps a row that an ingest re-stores while the sweep runs (re-checked under the row lock)', async () => {
    await addSource(key('d'), '2 hours');
    // The ingest path's upsert of an identical source, in a transaction still open when the sweep starts.
    const ingest = new pg.Client({ connectionString: t.db.url });
    await ingest.connect();
    try {
      await ingest.query('BEGIN');
      await ingest.query(`INSERT INTO raw_sources (key, data, stored_at) VALUES ($1, $2, now()) ON CONFLICT (key) DO UPDATE SET stored_at = EXCLUDED.stored_at`, [key('d'), Buffer.from('x')]);
      const sweep = sweepRawSources(t.orm, 3_600_000); // selects d (old in its snapshot), then waits for the row lock
      await waitForLockWait(t.db.url, 'the sweep');
      await ingest.query('COMMIT');
      expect(await sweep).toBe(0);
    } finally {
      await ingest.end();
    }
    expect(await sql(t.db.url, 'SELECT 1 FROM raw_sources WHERE key = $1', [key('d')])).toHaveLength(1);
  });
});

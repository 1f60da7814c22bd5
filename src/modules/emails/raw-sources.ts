/**
 * Raw sources kept in PostgreSQL (`raw_sources`, see RawSource): written by IngestService with their emails; this is
 * their other end of life. A row no email names any more (its emails deleted or expunged) is removed once it is older
 * than the grace period — the same rule as blob files, whose sweep calls this too.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { deleteInBatches } from '../../db/sql.js';

/** Removes `raw_sources` rows that no email names and that were stored more than `graceMs` ago; returns how many. */
export function sweepRawSources(orm: MikroORM, graceMs: number): Promise<number> {
  const cutoff = new Date(Date.now() - graceMs);
  return deleteInBatches(
    orm,
    'raw_sources',
    'key',
    'stored_at < ? AND NOT EXISTS (SELECT 1 FROM emails e WHERE e.raw_blob = raw_sources.key)',
    [cutoff],
    // An ingest storing the same source again refreshes stored_at under a row lock: re-checked on the locked row.
    { sql: 't.stored_at < ?', params: [cutoff] },
  );
}

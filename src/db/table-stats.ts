/**
 * Keeps the planner's statistics of a table current through bulk inserts. After a first sync stores 100,000 emails,
 * PostgreSQL still plans with the statistics of the near-empty table until autovacuum gets to it (minutes later on a
 * busy or large table): single-UID probes then walked every row of the folder (`uid = ANY(…)` as a filter, not an
 * index condition) and each new message's pass cost ~500 ms of PostgreSQL time instead of a few. Every `every`
 * inserted rows, an ANALYZE runs in the background, one at a time per process (it samples a bounded number of rows,
 * so its cost does not grow with the table).
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../shared/logger.js';
import { exec } from './sql.js';

export class TableStats {
  private pending = 0;
  private running: Promise<void> | null = null;

  constructor(
    private readonly orm: MikroORM,
    private readonly table: 'emails',
    private readonly every: number,
    private readonly log: Logger,
  ) {}

  /** Counts inserted rows; past the threshold (and with no ANALYZE running), one starts in the background. */
  inserted(rows: number): void {
    this.pending += rows;
    if (this.pending < this.every || this.running) return;
    this.pending = 0;
    const started = Date.now();
    this.running = exec(this.orm.em.fork(), `ANALYZE "${this.table}"`)
      .then(
        () => this.log.debug({ table: this.table, ms: Date.now() - started }, 'table statistics refreshed'),
        (err: unknown) => this.log.warn({ table: this.table, err }, 'ANALYZE after bulk inserts failed; autovacuum will refresh the statistics'),
      )
      .finally(() => (this.running = null));
  }

  /** Resolves once no ANALYZE is running (before the database connection closes). */
  async idle(): Promise<void> {
    await this.running;
  }
}

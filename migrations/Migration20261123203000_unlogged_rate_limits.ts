import { Migration } from '@mikro-orm/migrations';

/**
 * Rate-limit counters are hot (one upsert per request on one row per key) and disposable: an UNLOGGED table writes
 * no WAL, so those commits never wait for a WAL flush. A crash empties the table, which only resets the current
 * windows.
 */
export class Migration20261123203000_unlogged_rate_limits extends Migration {
  override name = 'Migration20261123203000_unlogged_rate_limits';

  override up(): void {
    this.addSql('alter table "rate_limit_counters" set unlogged;');
  }

  override down(): void {
    this.addSql('alter table "rate_limit_counters" set logged;');
  }
}

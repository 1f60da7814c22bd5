import { Migration } from '@mikro-orm/migrations';

/**
 * Seed 004's threaded view of GET /api/emails (`thread=true`) keeps an email when no newer email of its thread
 * matches: a probe per row the page walks. On `emails_thread` (thread_id alone) each probe read the whole thread (a
 * 10,000-message mailing-list thread: 10,000 rows per row of the page); in (thread_id, received_at, id) order it starts
 * at the row and reads only the newer ones.
 */
export class Migration20261210100200_emails_thread_recency extends Migration {

  override name = 'Migration20261210100200_emails_thread_recency';

  override up(): void | Promise<void> {
    this.addSql(`create index if not exists "emails_thread_recency" on "emails" ("thread_id", "received_at", "id") where "thread_id" is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "emails_thread_recency";`);
  }

}

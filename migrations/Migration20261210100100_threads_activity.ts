import { Migration } from '@mikro-orm/migrations';

/**
 * GET /api/threads lists the threads with emails by latest activity. Without an index in that order each page sorted
 * every thread (a top-N sort of 60k threads: ~30 ms per request, linear in the mailbox); with it a page is a walk.
 */
export class Migration20261210100100_threads_activity extends Migration {

  override name = 'Migration20261210100100_threads_activity';

  override up(): void | Promise<void> {
    this.addSql(`create index if not exists "threads_activity" on "threads" ("last_message_at" desc nulls last, "id" desc) where "message_count" > 0;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index if exists "threads_activity";`);
  }

}

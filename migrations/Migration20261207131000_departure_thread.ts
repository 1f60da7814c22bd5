import { Migration } from '@mikro-orm/migrations';

/**
 * A departure remembers its email's thread: an email moved on the server comes back under its id and into its thread.
 * It got a new thread instead (the old one left empty, a 404), so a conversation filed into Archive changed thread ids.
 */
export class Migration20261207131000_departure_thread extends Migration {

  override name = 'Migration20261207131000_departure_thread';

  override up(): void | Promise<void> {
    this.addSql(`alter table "email_departures" add "thread_id" int null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "email_departures" drop column "thread_id";`);
  }

}
